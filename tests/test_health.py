"""/healthz answers 200 only when both the database and the broker answer; why a part is down (its
host, port and error) is for staff and for monitors sending HEALTHZ_TOKEN, never for the public."""

import pytest

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
TOKEN = "monitoring-7a0c2e9b51"


def test_healthz_is_ok_with_postgresql_and_redis(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["database"] == "ok"
    assert response.json()["broker"] == "ok"


@pytest.fixture
def broker_down(monkeypatch):
    from config.celery import app

    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")  # the check opens its own connection


def test_healthz_tells_the_public_which_part_is_down_and_nothing_more(client, broker_down, settings):
    settings.HEALTHZ_TOKEN = TOKEN

    response = client.get("/healthz", HTTP_AUTHORIZATION="Bearer a-guess")

    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["database"], body["broker"]) == ("unhealthy", "ok", "down")
    assert "details" not in body
    assert "127.0.0.1" not in response.content.decode() and "Error" not in response.content.decode()


def test_a_monitor_with_the_token_sees_why_the_broker_is_down(client, broker_down, settings):
    settings.HEALTHZ_TOKEN = TOKEN

    response = client.get("/healthz", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert response.status_code == 503
    assert response.json()["broker"] == "down"
    assert "127.0.0.1:1" in response.json()["details"]["broker"]
    assert response.json()["details"]["database"] == "ok"


def test_a_staff_session_sees_why_and_a_trader_does_not(client, broker_down):
    client.force_login(UserFactory())
    assert "details" not in client.get("/healthz").json()

    client.force_login(UserFactory(is_staff=True))
    assert "127.0.0.1:1" in client.get("/healthz").json()["details"]["broker"]


def test_without_a_configured_token_no_bearer_opens_the_details(client, broker_down, settings):
    settings.HEALTHZ_TOKEN = ""

    assert "details" not in client.get("/healthz", HTTP_AUTHORIZATION="Bearer ").json()
