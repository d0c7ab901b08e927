"""``manage.py engine``: an operator stops and starts new entries for one trader or all of them."""

import pytest
from django.core.management import CommandError, call_command

from tests.factories import UserFactory
from trading.models import JournalEntry, RiskConfig

pytestmark = pytest.mark.django_db


def _run(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("engine", *args, stdout=out)
    return out.getvalue()


def test_stop_all_queues_every_traders_next_entry_and_start_promotes_it(
    route, trader, eager_celery, django_capture_on_commit_callbacks
):
    other = UserFactory(username="other")

    assert _run("stop", "--all") == "other: force-stopped\nwalkthrough: force-stopped\n"

    assert route(entry_price="100").status == "queued"
    assert RiskConfig.objects.get(user=other).engine_force_stopped
    notes = [entry.summary for entry in JournalEntry.objects.filter(kind="force_stop")]
    assert len(notes) == 2 and all("by an operator (manage.py engine)" in note for note in notes)
    assert "walkthrough: force-stopped; 0 open position(s), 1 queued entry" in _run("status")

    with django_capture_on_commit_callbacks(execute=True):
        assert _run("start", "walkthrough") == "walkthrough: running\n"

    assert "walkthrough: running; 1 open position(s), 0 queued entries" in _run("status", "walkthrough")
    assert RiskConfig.objects.get(user=other).engine_force_stopped  # only the named trader started


def test_stopping_a_stopped_engine_says_so_and_writes_no_second_audit_row(trader):
    _run("stop", "walkthrough")

    assert _run("stop", "walkthrough") == "walkthrough: force-stopped (already)\n"
    assert JournalEntry.objects.filter(kind="force_stop").count() == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (("stop",), "Name the traders to stop, or pass --all"),
        (("start", "walkthrough", "--all"), "Name the traders to start, or pass --all"),
        (("stop", "walkthrough", "nobody"), "No trader named 'nobody'; nothing was changed."),
    ],
)
def test_bad_arguments_change_nothing(trader, args, message):
    with pytest.raises(CommandError, match=message):
        _run(*args)
    assert not RiskConfig.objects.filter(engine_force_stopped=True).exists()
