"""The sweep re-sends signals whose routing task never ran, and gives up after a bound."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.trading.test_webhook import routing_messages
from trading.models import Signal
from trading.services.signals import (
    SWEEP_FIRST_RESEND_AFTER_SECONDS,
    SWEEP_MAX_RESENDS,
    signal_sweep,
)
from trading.tasks import signal_sweep_task

pytestmark = pytest.mark.django_db


def stored_signal(user, *, age_seconds: float, **fields) -> Signal:
    """An accepted signal that arrived ``age_seconds`` ago."""
    signal = Signal.objects.create(
        user=user,
        intent="signal",
        exchange="binance",
        tv_symbol="BTCUSDT",
        timeframe=15,
        side="long",
        entry_price=100,
        **fields,
    )
    Signal.objects.filter(id=signal.id).update(received_at=timezone.now() - timedelta(seconds=age_seconds))
    signal.refresh_from_db()
    return signal


def sweep(django_capture_on_commit_callbacks, *, now=None):
    with django_capture_on_commit_callbacks(execute=True):
        return signal_sweep(now=now)


def test_an_unrouted_signal_is_resent_to_the_workers(user, django_capture_on_commit_callbacks):
    lost = stored_signal(user, age_seconds=SWEEP_FIRST_RESEND_AFTER_SECONDS + 5)

    result = sweep(django_capture_on_commit_callbacks)

    assert result.resent == [lost.id]
    lost.refresh_from_db()
    assert lost.routing_attempts == 1
    assert lost.status == Signal.Status.RECEIVED
    assert routing_messages(lost.id) == 1


def test_young_routed_or_finished_signals_are_left_alone(user, django_capture_on_commit_callbacks):
    young = stored_signal(user, age_seconds=5)
    routing = stored_signal(user, age_seconds=600, routed_at=timezone.now())
    opened = stored_signal(user, age_seconds=600, status=Signal.Status.OPENED)
    rejected = stored_signal(user, age_seconds=600, status=Signal.Status.REJECTED, http_status=422)

    result = sweep(django_capture_on_commit_callbacks)

    assert result.resent == [] and result.failed == []
    for signal in (young, routing, opened, rejected):
        assert routing_messages(signal.id) == 0
        before = signal.status
        signal.refresh_from_db()
        assert (signal.status, signal.routing_attempts) == (before, 0)


def test_resends_back_off_then_the_signal_fails_with_a_reason(user, django_capture_on_commit_callbacks):
    lost = stored_signal(user, age_seconds=0)
    arrived = lost.received_at
    resent_at = []
    # Sweep every 30 s, as beat does, for an hour of simulated time.
    for tick in range(0, 3600, 30):
        now = arrived + timedelta(seconds=tick)
        result = sweep(django_capture_on_commit_callbacks, now=now)
        if result.resent:
            resent_at.append(tick)
        if result.failed:
            failed_at = tick
            break

    # Re-sent 1, 2, 4 and 8 minutes after arrival; failed at 16 minutes, never traded late.
    first = SWEEP_FIRST_RESEND_AFTER_SECONDS
    assert len(resent_at) == SWEEP_MAX_RESENDS
    assert resent_at == [first * 2**n + 30 - (first * 2**n) % 30 for n in range(SWEEP_MAX_RESENDS)]
    assert failed_at == first * 2**SWEEP_MAX_RESENDS + 30 - (first * 2**SWEEP_MAX_RESENDS) % 30
    lost.refresh_from_db()
    assert lost.status == Signal.Status.FAILED
    assert lost.routing_attempts == SWEEP_MAX_RESENDS
    assert "Not routed within 16 minutes" in lost.reason and "worker" in lost.reason
    assert routing_messages(lost.id) == SWEEP_MAX_RESENDS
    # A failed signal is never re-sent again.
    assert sweep(django_capture_on_commit_callbacks, now=arrived + timedelta(hours=2)).resent == []


def test_a_signal_routed_between_sweeps_is_not_failed(user, django_capture_on_commit_callbacks):
    routed = stored_signal(user, age_seconds=3600, routing_attempts=SWEEP_MAX_RESENDS)
    Signal.objects.filter(id=routed.id).update(status=Signal.Status.OPENED, routed_at=timezone.now())

    assert sweep(django_capture_on_commit_callbacks).failed == []
    routed.refresh_from_db()
    assert routed.status == Signal.Status.OPENED


def test_the_beat_task_runs_the_sweep(user, django_capture_on_commit_callbacks):
    lost = stored_signal(user, age_seconds=SWEEP_FIRST_RESEND_AFTER_SECONDS + 5)

    with django_capture_on_commit_callbacks(execute=True):
        signal_sweep_task.apply()

    lost.refresh_from_db()
    assert lost.routing_attempts == 1
    assert routing_messages(lost.id) == 1


def test_the_sweep_is_scheduled_every_30_seconds_and_expires_before_the_next_run(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["signal-sweep"]

    assert entry["task"] == "trading.tasks.signal_sweep_task"
    assert entry["schedule"].run_every.total_seconds() == 30
    assert entry["options"]["expire_seconds"] < 30  # what beat sends: tests/test_settings.py
