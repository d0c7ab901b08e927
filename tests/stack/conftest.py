import pytest

from tests.processes import process_env
from tests.stack.stack import Stack, Trader


@pytest.fixture
def stack(transactional_db, tmp_path):
    """The Procfile's web, worker and beat on the test database and the shared test Redis (not started yet)."""
    running = Stack(tmp_path, process_env())
    yield running
    running.stop_all()


@pytest.fixture
def started(stack):
    """``stack`` with web up and the demo trader ready (manual paper feed, no fees), then worker and beat."""
    stack.start("web")
    trader = Trader.from_demo(stack)
    stack.start("worker")
    stack.start("beat")
    return stack, trader
