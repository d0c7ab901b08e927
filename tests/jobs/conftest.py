"""Fixtures of the background-job tests: the worker that runs what a request handed over after its
commit, a queued entry, clients for a trader, a broker that is down."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tests.factories import UserFactory
from tests.notifications.conftest import telegram_on  # noqa: F401  (a fixture used here too)
from trading.models import QueuedSignal, RiskConfig, Signal


@pytest.fixture
def worker(eager_celery, django_capture_on_commit_callbacks):
    """worker(callbacks): what a Celery worker does with the work a request enqueued after its commit
    (the job's task, and any task the job enqueues in turn, run here)."""

    def run(callbacks):
        assert callbacks, "the request handed nothing over"
        with django_capture_on_commit_callbacks(execute=True):
            for callback in callbacks:
                callback()

    return run


def dashboard_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def stranger(db):
    return UserFactory(username="stranger")


@pytest.fixture
def queued(trader, route) -> QueuedSignal:
    """A full pool (one slot, taken by BTC/USDT) and an ETH/USDT entry waiting in the queue."""
    RiskConfig.objects.filter(user=trader).update(max_open_positions_global=1)
    assert route().status == Signal.Status.OPENED
    signal = route(symbol="ETHUSDT")
    assert signal.status == Signal.Status.QUEUED, signal.reason
    entry = QueuedSignal.objects.get(signal=signal)
    QueuedSignal.objects.filter(pk=entry.pk).update(expires_at=timezone.now() + timedelta(hours=1))
    return entry
