"""ccxt's exceptions as ours (``exchanges.connector``): retryable vs permanent, and what a task does next.

A placement whose answer was lost (timeout, 5xx, Binance -1006/-1007 "execution status unknown")
becomes ``OrderStatusUnknown``: look the order up by client order id before sending it again
(``Connector.place_order(is_retry=True)`` does). A rate limit becomes ``RateLimited`` with the
exchange's ``retry_after`` and pauses every process sharing the account's budget.
"""

import json
import re

import ccxt

from exchanges.connector import (
    AuthenticationFailed,
    BadSymbol,
    ExchangeError,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    OrderStatusUnknown,
    PermanentError,
    RateLimited,
    RetryableError,
)
from exchanges.rate_budget import FALLBACK_BLOCK_SECONDS, RateBudget, retry_after_seconds

# Binance -1006 "unexpected response … execution status unknown", -1007 "Timeout waiting for
# response from backend server. Send status unknown; execution status unknown." ccxt maps them
# differently per endpoint (RequestTimeout, BadResponse, ExchangeError), so we match the code.
STATUS_UNKNOWN_CODES = {"-1006", "-1007"}
# Answers that mean "no such order" which ccxt files under another class on some endpoints
# (Binance spot DELETE /api/v3/order: -2011 "Unknown order sent." → OperationRejected).
ORDER_NOT_FOUND_MESSAGES = ("unknown order sent", "order does not exist")
# A URL with a query string in a ccxt exception's text: the request as sent, signed (and on HTX
# with the API key as AccessKeyId). Network errors chain requests' exception, which names it too.
_SIGNED_URL = re.compile(r"://\S*\?")


# A settings change refused because the setting already has that value: success for us. Bybit 110043
# "Set leverage not modified", 110026 "Cross/isolated margin mode is not modified", 110025 "Position mode
# is not modified"; Binance -4046 "No need to change margin type.", -4059 "No need to change position side.";
# OKX answers code 0 to a leverage it already has, so it needs no entry.
NOT_MODIFIED_CODES = {"110043", "110026", "110025", "-4046", "-4059"}
NOT_MODIFIED_MESSAGES = ("not modified", "no need to change")


def is_not_modified(error: Exception, exchange_id: str) -> bool:
    """Whether a ccxt exception is the exchange's "not modified" / "already set" answer to a settings change."""
    if isinstance(error, ccxt.NoChange):  # ccxt's MarginModeAlreadySet included
        return True
    message, code = exchange_message_of(error, exchange_id)
    return code in NOT_MODIFIED_CODES or any(phrase in message.lower() for phrase in NOT_MODIFIED_MESSAGES)


def names_signed_url(error: Exception) -> bool:
    """Whether ``error``'s text names a request URL with its query string (its signature, or on HTX
    its API key): such an exception must not be chained to ours."""
    return bool(_SIGNED_URL.search(str(error)))


def _exchange_body(text: str) -> dict | None:
    start = text.find("{")
    if start == -1:
        return None
    try:
        body = json.loads(text[start:])
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def exchange_message_of(error: Exception, exchange_id: str) -> tuple[str, str]:
    """(the exchange's own message, its error code) from a ccxt exception's text.

    ccxt raises ``"<id> <response body>"`` or ``"<id> <message>"``; we keep the human part, and
    drop query strings from any URL (they carry request signatures).
    """
    text = str(error).strip()
    if text.startswith(exchange_id + " "):
        text = text[len(exchange_id) + 1 :]
    body = _exchange_body(text)
    code = ""
    if body is not None:
        raw_code = body.get("code", body.get("retCode"))
        code = "" if raw_code is None else str(raw_code)
        for key in ("msg", "retMsg", "message", "error"):
            if isinstance(body.get(key), str) and body[key]:
                return body[key], code
    text = re.sub(r"\?\S*", "", text)
    if isinstance(error, ccxt.RequestTimeout) and "timed out" not in text:
        text = f"no answer in time ({text})"
    return text or type(error).__name__, code


def translate(
    error: ccxt.BaseError, *, exchange_id: str, client, budget: RateBudget, creating_order: bool
) -> ExchangeError:
    """Our exception for ccxt's ``error``, raised by ``client`` (whose budget hook saw the answer's status
    and headers); ``creating_order`` when the request placed an order."""
    exchange = exchange_id
    message, code = exchange_message_of(error, exchange)
    lowered = message.lower()
    if isinstance(error, ccxt.OrderNotFound) or any(text in lowered for text in ORDER_NOT_FOUND_MESSAGES):
        return OrderNotFound(f"{exchange} does not know this order: {message}", exchange_message=message)
    if isinstance(error, (ccxt.DDoSProtection, ccxt.RateLimitExceeded)):
        retry_after = retry_after_seconds(client.budget_last_headers)
        if client.budget_last_status not in (418, 429):
            # A rate limit said in the body (Bybit retCode 10006 comes with HTTP 200): the
            # transport hook did not see it, so pause the other workers from here.
            budget.block(retry_after or FALLBACK_BLOCK_SECONDS)
        wait = f" for {retry_after:.0f} s" if retry_after else ""
        return RateLimited(
            f"{exchange} asked us to slow down{wait}: {message}", exchange_message=message, retry_after=retry_after
        )
    if creating_order and (isinstance(error, ccxt.DuplicateOrderId) or "duplicate" in lowered):
        # Binance -2010 "Duplicate order sent.", Bybit 110072 "OrderLinkedID is duplicate": the
        # client id we sent is already taken, i.e. an earlier attempt of this very order got through.
        return OrderStatusUnknown(
            f"{exchange} already has an order with this client order id; look it up instead of sending it "
            f"again: {message}",
            exchange_message=message,
        )
    if isinstance(error, ccxt.OperationFailed) or code in STATUS_UNKNOWN_CODES or "status unknown" in lowered:
        if creating_order:
            # Timeouts, 5xx and "execution status unknown": the order may well exist.
            return OrderStatusUnknown(
                f"{exchange} did not confirm the order, so it may or may not exist; look it up by "
                f"client order id before sending it again: {message}",
                exchange_message=message,
            )
        return RetryableError(
            f"{exchange} is unreachable or busy; try again shortly: {message}", exchange_message=message
        )
    if isinstance(error, ccxt.InsufficientFunds):
        return InsufficientFunds(
            f"Not enough balance on {exchange} for this order: {message}", exchange_message=message
        )
    if isinstance(error, ccxt.BadSymbol):
        return BadSymbol(f"{exchange} does not trade this market: {message}", exchange_message=message)
    if isinstance(error, ccxt.InvalidOrder):
        return InvalidOrder(f"{exchange} rejected the order: {message}", exchange_message=message)
    if isinstance(error, ccxt.AuthenticationError):  # includes PermissionDenied
        return AuthenticationFailed(
            f"{exchange} refused the API key: check the key, its secret and its trading permission "
            f"(and IP whitelist). {message}",
            exchange_message=message,
        )
    return PermanentError(f"{exchange} refused the request: {message}", exchange_message=message)
