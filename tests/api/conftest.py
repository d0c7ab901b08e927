"""Fixtures of the API-wide tests: clients, budgets, and a network that ends at this machine."""

import socket

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def fresh_budgets():
    """Each test starts with untouched request budgets: the counts of earlier tests (same client
    address 127.0.0.1) live in the shared cache and would otherwise carry over."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def throttle_rates(settings):
    """throttle_rates(user=..., anon=..., **{"auth-token": ...}): set some request budgets (None: unlimited)."""

    def _set(**rates):
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
        }

    return _set


LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


@pytest.fixture
def loopback_only(monkeypatch):
    """Name lookups of anything but this machine fail, as with no network: an exchange account with
    made-up keys, or a Telegram bot token, can never reach a real host from a test."""
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in LOOPBACK_NAMES and not name.startswith("127."):
            raise socket.gaierror(socket.EAI_NONAME, f"tests reach loopback only, not {name!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
