"""A minimal Telegram Bot API client: ``sendMessage`` and ``editMessageText`` over ``requests``.

Every answer is sorted into one of three outcomes the caller acts on: delivered (with the message
id), retry later (429 with Telegram's ``retry_after``, 5xx, network errors), or permanent (400/401/
403: bad token, chat not found, bot not an admin). The bot token is part of the URL, so it never
appears in an exception text we store: errors carry Telegram's description only.
"""

from dataclasses import dataclass

import requests
from django.conf import settings

from notifications.formatting import fit_message

# Telegram answers in well under a second; 10 s leaves room for a slow network without holding a
# worker for long (the task retries on timeout).
TIMEOUT_SECONDS = 10

MESSAGE_GONE = ("message to edit not found", "message can't be edited", "message_id_invalid")
NOT_MODIFIED = "message is not modified"


@dataclass(frozen=True)
class TelegramResult:
    ok: bool
    message_id: int | None = None
    retry_after: int | None = None  # seconds, when Telegram asked us to wait (429)
    retryable: bool = False
    status_code: int | None = None
    description: str = ""

    @property
    def message_gone(self) -> bool:
        return not self.ok and any(text in self.description.lower() for text in MESSAGE_GONE)

    @property
    def not_modified(self) -> bool:
        return not self.ok and NOT_MODIFIED in self.description.lower()


def _call(token: str, method: str, payload: dict) -> TelegramResult:
    url = f"{settings.TELEGRAM_API_BASE}/bot{token}/{method}"
    try:
        response = requests.post(url, json=payload, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        return TelegramResult(ok=False, retryable=True, description=f"network error: {type(exc).__name__}")
    try:
        body = response.json()
    except ValueError:
        body = {}
    description = str(body.get("description") or response.reason or "")
    if response.status_code == 200 and body.get("ok"):
        result = body.get("result") or {}
        return TelegramResult(
            ok=True, message_id=result.get("message_id") if isinstance(result, dict) else None, status_code=200
        )
    if response.status_code == 429:
        retry_after = (body.get("parameters") or {}).get("retry_after") or 1
        return TelegramResult(
            ok=False,
            retry_after=int(retry_after),
            retryable=True,
            status_code=429,
            description=description or "Too Many Requests",
        )
    return TelegramResult(
        ok=False,
        retryable=response.status_code >= 500,
        status_code=response.status_code,
        description=description or f"HTTP {response.status_code}",
    )


def send_message(token: str, chat_id: str, text: str) -> TelegramResult:
    return _call(
        token,
        "sendMessage",
        {"chat_id": chat_id, "text": fit_message(text), "parse_mode": "HTML", "disable_web_page_preview": True},
    )


def edit_message_text(token: str, chat_id: str, message_id: int, text: str) -> TelegramResult:
    return _call(
        token,
        "editMessageText",
        {
            "chat_id": chat_id,
            "message_id": message_id,
            "text": fit_message(text),
            "parse_mode": "HTML",
            "disable_web_page_preview": True,
        },
    )
