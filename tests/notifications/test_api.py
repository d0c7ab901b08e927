"""GET/PUT /api/v1/telegram/config/ and POST /api/v1/telegram/test/ (a job the worker runs)."""

import pytest
from rest_framework.test import APIClient

from notifications.models import Notification, TelegramConfig
from tests.api_client import client_for
from tests.notifications.conftest import TOKEN

pytestmark = pytest.mark.django_db
CONFIG, TEST = "/api/v1/telegram/config/", "/api/v1/telegram/test/"


@pytest.fixture
def api(user):
    return client_for(user)


def settings_body(**changes) -> dict:
    body = {
        "enabled": True,
        "bot_token": TOKEN,
        "channel_id": "@signals",
        "quiet_hours_enabled": True,
        "quiet_hours_start": "22:00",
        "quiet_hours_end": "08:00",
        "alert_loss_threshold_percent": "-5",
    }
    body.update(changes)
    return body


def test_the_token_is_stored_encrypted_and_never_returned(api, user):
    response = api.put(CONFIG, settings_body(), format="json")

    assert response.status_code == 200, response.data
    assert "bot_token" not in response.data and response.data["has_bot_token"] is True
    assert response.data["quiet_hours_start"] == "22:00:00"
    config = TelegramConfig.objects.get(user=user)
    assert config.bot_token == TOKEN and config.enabled
    assert TOKEN not in api.get(CONFIG).content.decode()


def test_an_empty_token_keeps_the_stored_one(api, user):
    api.put(CONFIG, settings_body(), format="json")
    response = api.put(CONFIG, settings_body(bot_token="", channel_name="My <b>signals</b>"), format="json")
    assert response.status_code == 200
    assert TelegramConfig.objects.get(user=user).bot_token == TOKEN


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"bot_token": "", "enabled": True}, "enabled"),  # enabled without a token
        ({"quiet_hours_end": None}, "quiet_hours_enabled"),  # half a quiet-hours range
        ({"alert_loss_threshold_percent": "5"}, "alert_loss_threshold_percent"),  # a loss must be negative
    ],
)
def test_invalid_settings_are_refused_and_nothing_changes(api, user, changes, field):
    response = api.put(CONFIG, settings_body(**changes), format="json")
    assert response.status_code == 400 and field in response.data
    assert TelegramConfig.objects.get(user=user).enabled is False


def test_test_message_reports_telegrams_answer(
    api, user, fake_telegram, eager_celery, django_capture_on_commit_callbacks
):
    api.put(CONFIG, settings_body(), format="json")

    def test_message() -> dict:
        with django_capture_on_commit_callbacks(execute=True):  # the worker runs the job the request started
            started = api.post(TEST)
        assert started.status_code == 202
        return api.get(started.data["url"]).data["result"]

    ok = test_message()
    assert ok["ok"] is True and ok["message_id"] == 101
    (request,) = fake_telegram.sent("sendMessage")
    assert request.body["chat_id"] == "@signals" and "Test message" in request.body["text"]

    fake_telegram.answer_next(
        "sendMessage", 400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
    )
    refused = test_message()
    assert refused["ok"] is False and refused["description"] == "Bad Request: chat not found"
    assert "chat not found" in api.get(CONFIG).data["last_error"]
    assert list(
        Notification.objects.filter(event_type="test").values_list("status", flat=True).order_by("created_at")
    ) == ["sent", "failed"]


def test_test_message_without_a_token_explains_what_to_do(api, fake_telegram):
    response = api.post(TEST)
    assert response.status_code == 409 and "bot token" in response.data["detail"]
    assert fake_telegram.sent() == []


def test_anonymous_requests_are_refused(fake_telegram):
    assert APIClient().get(CONFIG).status_code in (401, 403)
    assert APIClient().post(TEST).status_code in (401, 403)
    assert fake_telegram.sent() == []
