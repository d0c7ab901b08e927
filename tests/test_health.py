"""/healthz answers 200 only when both the database and the broker answer."""

import pytest

pytestmark = pytest.mark.django_db


def test_healthz_is_ok_with_postgresql_and_redis(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["database"] == "ok"
    assert response.json()["broker"] == "ok"


def test_healthz_is_503_when_the_broker_is_down(client, monkeypatch):
    from config.celery import app

    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")  # the check opens its own connection
    try:
        response = client.get("/healthz")
    finally:
        monkeypatch.undo()

    assert response.status_code == 503
    assert response.json()["status"] == "unhealthy"
    assert response.json()["database"] == "ok"
    assert "Error" in response.json()["broker"]
