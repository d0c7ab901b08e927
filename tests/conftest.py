import os

import pytest
from django.conf import settings


def pytest_configure(config):
    engine = settings.DATABASES["default"]["ENGINE"]
    if "sqlite" in engine and os.environ.get("ALLOW_SQLITE_TESTS") != "1":
        pytest.exit(
            "The suite runs on PostgreSQL: run `make test` (it starts throwaway PostgreSQL and Redis), "
            "or set DATABASE_URL. Set ALLOW_SQLITE_TESTS=1 to run on SQLite anyway.",
            returncode=2,
        )


@pytest.fixture
def user(db):
    from tests.factories import UserFactory

    return UserFactory()


@pytest.fixture
def eager_celery():
    """Tasks enqueued after commit run inline, so a test sees the whole signal → orders flow."""
    from config.celery import app

    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous
