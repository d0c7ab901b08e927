"""Delivery against a fake Bot API on 127.0.0.1: what Telegram received and what was stored."""

import pytest

from notifications.models import Notification, TelegramConfig
from notifications.tasks import notification_send_task
from tests.notifications.conftest import TOKEN

pytestmark = pytest.mark.django_db


def pending(user, **fields) -> Notification:
    return Notification.objects.create(
        user=user, event_type="entry", text="<b>hello</b> &amp; bye", chat_id="@signals", **fields
    )


def test_a_message_reaches_telegram_in_html_and_its_id_is_stored(user, fake_telegram, telegram_on):
    telegram_on(user)
    notification = pending(user)

    notification_send_task.apply(args=[str(notification.pk)])

    (request,) = fake_telegram.sent()
    assert (request.method, request.token) == ("sendMessage", TOKEN)
    assert request.body == {
        "chat_id": "@signals",
        "text": "<b>hello</b> &amp; bye",
        "parse_mode": "HTML",
        "disable_web_page_preview": True,
    }
    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.telegram_message_id) == ("sent", 1, 101)
    assert notification.sent_at is not None


def test_rate_limited_message_is_retried_and_sent(user, fake_telegram, telegram_on):
    telegram_on(user)
    fake_telegram.answer_next(
        "sendMessage",
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 1",
            "parameters": {"retry_after": 1},
        },
    )
    notification = pending(user)

    notification_send_task.apply(args=[str(notification.pk)])

    assert [r.method for r in fake_telegram.sent()] == ["sendMessage", "sendMessage"]
    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.error) == ("sent", 2, "")


def test_rate_limit_records_telegrams_wait_before_the_retry(user, fake_telegram, telegram_on):
    from notifications.services import notification_deliver

    telegram_on(user)
    fake_telegram.answer_next(
        "sendMessage",
        429,
        {"ok": False, "error_code": 429, "description": "Too Many Requests", "parameters": {"retry_after": 7}},
    )
    notification = pending(user)

    result = notification_deliver(notification_id=notification.pk)

    assert result.retry_after == 7
    notification.refresh_from_db()
    assert notification.status == "retrying"
    assert notification.error == "Too Many Requests; retrying in 7 s as Telegram asked"


def test_forbidden_is_permanent_and_shown_in_settings(user, fake_telegram, telegram_on):
    telegram_on(user)
    fake_telegram.answer_next(
        "sendMessage",
        403,
        {"ok": False, "error_code": 403, "description": "Forbidden: bot is not a member of the channel chat"},
    )
    notification = pending(user)

    notification_send_task.apply(args=[str(notification.pk)])

    assert len(fake_telegram.sent()) == 1  # not retried
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("failed", 1)
    config = TelegramConfig.objects.get(user=user)
    assert "403: Forbidden: bot is not a member of the channel chat" in config.last_error
    assert "admin" in config.last_error and config.last_error_at is not None
    assert notification.error == config.last_error
    assert TOKEN not in config.last_error


def test_a_later_success_clears_the_settings_error(user, fake_telegram, telegram_on):
    telegram_on(user, last_error="Telegram refused the message (401: Unauthorized)")
    notification_send_task.apply(args=[str(pending(user).pk)])
    assert TelegramConfig.objects.get(user=user).last_error == ""


def test_an_edit_of_a_deleted_message_becomes_a_new_message(user, fake_telegram, telegram_on):
    telegram_on(user)
    fake_telegram.answer_next(
        "editMessageText",
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: message to edit not found"},
    )
    notification = pending(user, is_edit=True, telegram_message_id=55)

    notification_send_task.apply(args=[str(notification.pk)])

    edit, send = fake_telegram.sent()
    assert (edit.method, edit.body["message_id"]) == ("editMessageText", 55)
    assert send.method == "sendMessage" and send.body["text"] == notification.text
    notification.refresh_from_db()
    assert (notification.status, notification.is_edit, notification.telegram_message_id) == ("sent", False, 101)


def test_an_unchanged_edit_counts_as_delivered(user, fake_telegram, telegram_on):
    telegram_on(user)
    fake_telegram.answer_next(
        "editMessageText",
        400,
        {
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: message is not modified: specified new message content is the same",
        },
    )
    notification = pending(user, is_edit=True, telegram_message_id=55)

    notification_send_task.apply(args=[str(notification.pk)])

    assert [r.method for r in fake_telegram.sent()] == ["editMessageText"]
    notification.refresh_from_db()
    assert (notification.status, notification.telegram_message_id) == ("sent", 55)


def test_network_errors_are_retried_then_given_up(user, settings, telegram_on):
    import socket

    with socket.socket() as closed:  # a free port on 127.0.0.1 nobody listens on
        closed.bind(("127.0.0.1", 0))
        settings.TELEGRAM_API_BASE = f"http://127.0.0.1:{closed.getsockname()[1]}"
    telegram_on(user)
    notification = pending(user)

    notification_send_task.apply(args=[str(notification.pk)])

    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("failed", 6)
    assert notification.error.startswith("Gave up after 6 attempts: network error")
    assert TelegramConfig.objects.get(user=user).last_error == ""  # not the trader's to fix
