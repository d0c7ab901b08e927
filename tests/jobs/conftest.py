"""Fixtures of the background-job tests: a network that records who tried to leave the machine, the
worker that runs what a request handed over after its commit, a queued entry, a signed-in trader."""

import socket
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from risk.models import RiskConfig
from tests.factories import UserFactory
from tests.notifications.conftest import fake_telegram, telegram_on  # noqa: F401  (fixtures used here too)
from trading.models import QueuedSignal, Signal

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


@pytest.fixture
def network_tap(monkeypatch) -> list[str]:
    """Every host name something tried to reach beyond this machine, in order; each attempt fails as
    with no network (an exchange account with made-up keys can never reach the real exchange)."""
    reached: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in LOOPBACK_NAMES and not name.startswith("127."):
            reached.append(name)
            raise socket.gaierror(socket.EAI_NONAME, f"tests reach loopback only, not {name!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return reached


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


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


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


@pytest.fixture
def broker_down(monkeypatch):
    """Point the Celery app at a closed port, as when Redis is down (like tests/trading/test_webhook.py)."""
    from config.celery import app

    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    monkeypatch.setattr(app, "_pool", None)
    monkeypatch.setattr(app.amqp, "_producer_pool", None)
    yield
    app.pool.force_close_all()
