"""``POST /webhooks/<user_uuid>/tradingview``: validate, store, acknowledge; routing happens later.

A plain Django view (not DRF) because it must answer in milliseconds: TradingView gives up after
3 s and resends on a 5xx. The request never calls an exchange and never routes: it stores the
signal and enqueues its routing once the row is committed. Checks, in order:

1. rate limit per client IP (an IPv6 client per /64) → 429 (logged, not stored: a flood must not
   fill the database)
2. source address allowlist → 403
3. body size → 413
4. JSON object, nested at most 32 levels → 400
5. secret present → 401; user exists and secret matches → 403 (one body for both: no enumeration)
6. rate limit per user → 429
7. payload validation (``trading.alerts``; a non-finite number is an error at its field) → 422
8. store, or find the first copy of a repeated body → 202 accepted / 200 duplicate

Every rejection (400/401/403/413/422) is logged with the client IP. One naming a known user is
stored as a ``Signal`` with the secret removed and at most ``STORED_REJECTED_BODY_BYTES`` of its
body, for its owner to see, up to ``WEBHOOK_REFUSALS_KEPT_PER_USER_PER_HOUR`` an hour; one naming no
known user (or over that allowance) is only counted, per source network and hour
(``WebhookRejectionTally``), so junk cannot fill the database. Beat deletes stored rejections after
``REJECTED_SIGNAL_RETENTION_DAYS``. A database failure before anything was committed answers 503
so that TradingView sends the alert again.

Where each part lives: the rate limits in ``trading.webhook.limits``, the client address (trusted
proxies, the IPv6 /64, the allowlist) in ``trading.webhook.addresses``, decoding and what is stored
of a body (secrets masked, numbers, size bounds) in ``trading.webhook.bodies``; this module holds
the order of the checks and the answers.
"""

import hmac
import logging
import uuid
from typing import TypedDict

from django.conf import settings
from django.db import DatabaseError
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from trading.alerts import AlertInvalid, errors_summary, parse_alert
from trading.models import User
from trading.selectors import webhook_user
from trading.services.signals import signal_accept, signal_reject, webhook_rejection_count
from trading.webhook.addresses import client_ip, source_allowed, source_network
from trading.webhook.bodies import TOO_DEEP, bounded, decode, refused_payload, stored_payload
from trading.webhook.limits import rate_limited, refusal_kept

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
# Compared against when the URL names no user, so an unknown user costs the same time as a known one.
_NO_SECRET = b"\x00" * 43

FORBIDDEN = {"detail": "Invalid secret or unknown user."}


class _Sender(TypedDict):
    """Who sent a request, as ``_reject`` records it."""

    user: User | None
    ip: str | None
    url_user_id: str


def _url_user(user_id: str) -> User | None:
    try:
        pk = uuid.UUID(user_id)
    except ValueError:
        return None
    return webhook_user(pk)


def _reject(
    status: int, body: dict, *, reason: str, user: User | None, ip: str | None, url_user_id: str, payload: dict | None
) -> JsonResponse:
    """Answer ``status``; store the rejection for its user, or only count it when no known user is
    named or the user's stored refusals are over the hour's allowance."""
    logger.warning("webhook %s from %s for user %r: %s", status, ip, url_user_id[:64], reason)
    try:
        if user is None:
            webhook_rejection_count(network=source_network(ip), http_status=status, reason=reason)
        elif not refusal_kept(user):
            webhook_rejection_count(
                network=source_network(ip),
                http_status=status,
                reason=f"User {user.pk}, over the hour's stored refusals: {reason}",
            )
        else:
            signal_reject(user=user, client_ip=ip, http_status=status, reason=reason, payload=payload)
    except DatabaseError as exc:  # the answer is still right; only the record is lost
        logger.error("could not store the %s rejection from %s (%s: %s)", status, ip, type(exc).__name__, exc)
    return JsonResponse(body, status=status)


def _too_many(retry_after: int, detail: str) -> JsonResponse:
    response = JsonResponse({"detail": f"{detail} Retry in {retry_after} s."}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def _unavailable(exc: Exception, ip: str | None) -> JsonResponse:
    logger.error("webhook from %s: database unavailable, nothing stored (%s: %s)", ip, type(exc).__name__, exc)
    return JsonResponse({"detail": "Temporarily unavailable: the alert was not stored. Send it again."}, status=503)


@csrf_exempt
@require_POST
def tradingview_webhook(request, user_id: str):
    ip = client_ip(request)
    retry_after = rate_limited("ip", source_network(ip), settings.WEBHOOK_RATE_LIMIT_PER_IP)
    if retry_after:
        return _too_many(retry_after, "Too many requests from this address.")

    try:
        user = _url_user(user_id)
    except DatabaseError as exc:
        return _unavailable(exc, ip)
    reject = _Sender(user=user, ip=ip, url_user_id=user_id)

    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0  # as Django reads it: nothing
    too_large = declared > MAX_BODY_BYTES
    body = b"" if too_large else request.read(MAX_BODY_BYTES + 1)
    too_large = too_large or len(body) > MAX_BODY_BYTES
    data, not_json = (None, "") if too_large else decode(body)

    def refused(sent_secret=None) -> dict | None:
        """A refused body as stored: secrets removed, at most STORED_REJECTED_BODY_BYTES of it
        (none when no known user is named: that rejection is only counted)."""
        if too_large or user is None:
            return None
        return refused_payload(body, data, user, sent_secret)

    if not source_allowed(ip):
        return _reject(
            403,
            {"detail": "Source address not allowed."},
            payload=refused(),
            reason=f"Source address {ip} is not in WEBHOOK_ALLOWED_IPS.",
            **reject,
        )
    if too_large:
        return _reject(
            413,
            {"detail": f"Body larger than {MAX_BODY_BYTES} bytes."},
            payload=None,
            reason=f"Body of {max(declared, len(body))} bytes is over the {MAX_BODY_BYTES // 1024} KiB limit.",
            **reject,
        )
    if data is None:
        detail = (
            f"Invalid JSON payload: {TOO_DEEP}."
            if not_json == TOO_DEEP
            else "Invalid JSON payload: the body must be a JSON object."
        )
        return _reject(400, {"detail": detail}, payload=refused(), reason=f"Body is {not_json}.", **reject)

    sent_secret = data.get("secret")
    if sent_secret is None or sent_secret == "":
        return _reject(
            401,
            {"detail": "Missing secret in payload."},
            payload=refused(),
            reason="Missing secret in payload.",
            **reject,
        )
    expected = user.webhook_secret.encode() if user is not None else _NO_SECRET
    given = sent_secret.encode("utf-8", errors="replace") if isinstance(sent_secret, str) else b""
    if not hmac.compare_digest(given, expected) or user is None:
        reason = "Wrong webhook secret." if user is not None else f"Unknown user {user_id[:64]!r} in the URL."
        return _reject(403, FORBIDDEN, payload=refused(sent_secret), reason=reason, **reject)

    retry_after = rate_limited("user", str(user.pk), settings.WEBHOOK_RATE_LIMIT_PER_USER)
    if retry_after:
        return _too_many(retry_after, "Too many alerts for this user.")

    payload = stored_payload(data, user, sent_secret)
    try:
        alert = parse_alert(
            data, now=timezone.now(), replay_window_seconds=user.replay_window_seconds, url_user_id=user.pk
        )
    except AlertInvalid as exc:
        return _reject(
            422,
            {"detail": exc.errors},
            payload=bounded(payload, body),
            reason=f"Invalid alert: {errors_summary(exc.errors)}",
            **reject,
        )

    try:
        signal, created = signal_accept(user=user, body=body, payload=payload, alert=alert, client_ip=ip)
    except DatabaseError as exc:
        return _unavailable(exc, ip)
    if not created:
        return JsonResponse({"status": "duplicate", "signal_id": str(signal.id)}, status=200)
    return JsonResponse({"status": "accepted", "signal_id": str(signal.id)}, status=202)
