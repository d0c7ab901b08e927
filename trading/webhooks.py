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

Numbers are parsed as ``Decimal`` (never float: ``1e999999`` would be ``inf``, which PostgreSQL's
JSON refuses, a 503 TradingView would resend forever); the payload is stored with each number as a
JSON number when a float holds it exactly, else as its exact decimal string.

The body is read as JSON whatever the Content-Type says: TradingView sends ``text/plain`` for
some alerts and ``application/json`` for others, and a hand-made ``curl -d`` sends a form type.
"""

import hmac
import ipaddress
import json
import logging
import math
import re
import time
import uuid
from decimal import Decimal
from functools import lru_cache

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from trading.alerts import (
    MAX_JSON_DEPTH, AlertInvalid, errors_summary, json_depth_exceeds, json_number, parse_alert,
)
from trading.models import User
from trading.selectors import webhook_user
from trading.services.signals import signal_accept, signal_reject, webhook_rejection_count

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
# What is kept of a refused body (as UTF-8 JSON text): the filled-in alert (README "Webhook") is ~0.9 KB, so
# 4 KiB shows the trader any real alert whole, while a flood at the per-IP limit (1,200/minute)
# stores ~5 MB a minute rather than the ~77 MB that 64 KiB bodies did. Larger bodies are kept as
# their first 4 KiB of text. Accepted alerts are stored whole: routing reads them.
STORED_REJECTED_BODY_BYTES = 4 * 1024
# Rate limits and the tally of unknown-user rejections count an IPv6 client by its /64: one
# subscriber usually holds a whole /64 (RFC 6177), so counting single addresses would give one
# machine 2**64 allowances.
IPV6_CLIENT_PREFIX = 64
# WEBHOOK_REFUSALS_KEPT_PER_USER_PER_HOUR counts in fixed one-hour windows, like the rate limits' minutes.
REFUSAL_WINDOW_SECONDS = 3600
RATE_WINDOW_SECONDS = 60
MASK = "***"
# Secret-looking values in an unparseable body: "secret": "…", secret=…, 'webhook_secret': '…'.
_SECRET_IN_TEXT = re.compile(
    r"""(["']?[\w-]*secret[\w-]*["']?\s*[:=]\s*)("(?:[^"\\]|\\.)*"?|'[^']*'?|[^\s,;&}\]]*)""", re.IGNORECASE
)
# Compared against when the URL names no user, so an unknown user costs the same time as a known one.
_NO_SECRET = b"\x00" * 43

FORBIDDEN = {"detail": "Invalid secret or unknown user."}


# After the cache fails, rate limits are skipped for this long in this process, so an outage costs
# one request the cache's socket timeout instead of every request.
CACHE_RETRY_AFTER_SECONDS = 10
_cache_down_until = 0.0
_REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"
_counter_clients: dict[str, redis.Redis] = {}


def _counter_redis() -> redis.Redis | None:
    """A client on the cache's Redis, made once per process; None when the cache is not Redis.

    Why not ``cache.incr``: Django's RedisCache builds a new client per call and ``incr`` is EXISTS
    then INCRBY, so two limits cost 4 round trips and 2 client constructions, ~0.4 ms of the
    webhook's CPU; one pipelined INCR + EXPIRE on a kept client is ~0.05 ms. Measured with
    ``make bench BENCH=webhook``: +25-35 % webhook throughput.
    """
    config = settings.CACHES["default"]
    if config["BACKEND"] != _REDIS_CACHE:
        return None
    location = config["LOCATION"] if isinstance(config["LOCATION"], str) else config["LOCATION"][0]
    client = _counter_clients.get(location)
    if client is None:
        timeouts = {key: value for key, value in config.get("OPTIONS", {}).items() if key.startswith("socket_")}
        client = _counter_clients[location] = redis.Redis.from_url(location, **timeouts)
    return client


def _count(key: str, window_seconds: int = RATE_WINDOW_SECONDS) -> int:
    """Add one to the counter ``key`` (kept two windows, then dropped) and return its value."""
    client = _counter_redis()
    if client is not None:
        pipe = client.pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, window_seconds * 2)
        return pipe.execute()[0]
    try:  # any other cache backend (the file cache of the embedded default)
        return cache.incr(key)
    except ValueError:  # first request of the window
        return 1 if cache.add(key, 1, timeout=window_seconds * 2) else cache.incr(key)


def _rate_limited(scope: str, ident: str, limit: int) -> int | None:
    """Count this request in its fixed one-minute window, in the cache (Redis in production).

    Returns the seconds until the window ends when over ``limit``, else None. Fails open: with the
    cache unreachable the request goes through, because refusing alerts is worse than a missing
    flood guard; the cache is tried again after CACHE_RETRY_AFTER_SECONDS.
    """
    global _cache_down_until
    if limit <= 0 or time.monotonic() < _cache_down_until:
        return None
    now = time.time()
    window = int(now // RATE_WINDOW_SECONDS)
    try:
        count = _count(f"webhook-rate:{scope}:{ident}:{window}")
    except ValueError:
        return None  # the key expired between add and incr: a new window has begun
    except Exception as exc:
        _cache_down_until = time.monotonic() + CACHE_RETRY_AFTER_SECONDS
        logger.warning("webhook rate limits skipped for %s s, cache unavailable (%s: %s)",
                       CACHE_RETRY_AFTER_SECONDS, type(exc).__name__, exc)
        return None
    if count <= limit:
        return None
    retry_after = max(1, int((window + 1) * RATE_WINDOW_SECONDS - now + 0.999))
    if count == limit + 1:  # once per window and key; Django's request log notes every 429
        logger.warning("webhook rate limit: %s %s over %s requests/minute; refusing for %s s",
                       scope, ident, limit, retry_after)
    return retry_after


@lru_cache(maxsize=16)
def _networks(spec: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in spec if item.strip())


def _ip(text: str):
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # 203.0.113.7:443
        text = text.split(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return address.ipv4_mapped or address if address.version == 6 else address


def source_network(ip: str | None) -> str:
    """The client as rate limits count it: an IPv4 address, or the /64 of an IPv6 one."""
    address = _ip(ip or "")
    if address is None:
        return "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(address)


def _refusal_kept(user: User) -> bool:
    """Whether a refused request naming ``user`` is still within the hour's
    ``WEBHOOK_REFUSALS_KEPT_PER_USER_PER_HOUR`` stored rows (past it, it is only counted).

    Anyone who knows a trader's URL can post to it without the secret; this caps what they can make
    the database keep for that trader. Fails toward keeping the (4 KiB-bounded) row if the cache is down.
    """
    limit = settings.WEBHOOK_REFUSALS_KEPT_PER_USER_PER_HOUR
    if limit <= 0 or time.monotonic() < _cache_down_until:
        return True
    hour = int(time.time() // REFUSAL_WINDOW_SECONDS)
    try:
        return _count(f"webhook-refusals:{user.pk}:{hour}", REFUSAL_WINDOW_SECONDS) <= limit
    except Exception:  # the rate limiter, which ran first, has logged the cache's state
        return True


def _in(address, networks) -> bool:
    return any(address.version == network.version and address in network for network in networks)


def client_ip(request) -> str | None:
    """The address that sent the request: REMOTE_ADDR, or behind a trusted proxy the right-most
    X-Forwarded-For entry that is not itself a trusted proxy (entries left of it are client-chosen).
    """
    address = _ip(request.META.get("REMOTE_ADDR", ""))
    proxies = _networks(tuple(settings.WEBHOOK_TRUSTED_PROXIES))
    if address is None or not proxies or not _in(address, proxies):
        return str(address) if address else None
    for hop in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        hop_address = _ip(hop)
        if hop_address is None:
            break  # a malformed entry ends the chain we can trust: keep the last good hop
        address = hop_address
        if not _in(address, proxies):
            break
    return str(address)


def _mask_text(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    return _SECRET_IN_TEXT.sub(lambda match: f'{match.group(1)}"{MASK}"', text)


def _storable(text: str) -> str:
    """``text`` without NUL characters, which PostgreSQL cannot store (shown as U+FFFD instead)."""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def _storable_number(number: Decimal) -> int | float | str:
    """A parsed fraction or exponent as JSON can store it: the float it always was when that float is
    exact, else the exact decimal string (``"1E+999999"``, ``"NaN"``, 20 significant digits), so
    nothing non-finite reaches the database and routing re-reads the same value."""
    as_float = float(number)
    if math.isfinite(as_float) and Decimal(repr(as_float)) == number:
        return as_float
    return str(number)


def _scrub(value, secrets: tuple[str, ...], *, top: bool = False):
    """The payload as stored: without ``secret``, any other secret-named key or copy of a secret
    masked, NUL characters replaced, numbers storable. Recursive: only for decoded bodies, which
    ``_decode`` holds to ``MAX_JSON_DEPTH``."""
    if isinstance(value, dict):
        return {
            _storable(key): (MASK if "secret" in str(key).lower() else _scrub(item, secrets))
            for key, item in value.items()
            if not (top and key == "secret")
        }
    if isinstance(value, list):
        return [_scrub(item, secrets) for item in value]
    if isinstance(value, Decimal):
        return _storable_number(value)
    if isinstance(value, str):
        value = _storable(value)
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, MASK)
    return value


def _secrets_to_hide(user: User | None, sent) -> tuple[str, ...]:
    """The user's real secret and the one sent (a wrong one may be an old, rotated secret)."""
    found = []
    if user is not None and user.webhook_secret:
        found.append(user.webhook_secret)
    if isinstance(sent, str) and len(sent) >= 8:
        found.append(sent)
    return tuple(found)


_TOO_DEEP = f"nested deeper than {MAX_JSON_DEPTH} levels"


def _decode(body: bytes) -> tuple[dict | None, str]:
    """The body as a JSON object nested at most ``MAX_JSON_DEPTH`` levels, or None and why not.

    Fractions and exponents become ``Decimal``; so do NaN and ±Infinity (not JSON, but what an
    unquoted empty TradingView placeholder renders), to be refused at their field with a 422.
    """
    if not body.strip():
        return None, "empty"
    try:
        data = json.loads(body.removeprefix(b"\xef\xbb\xbf"), parse_float=json_number, parse_constant=Decimal)
    except RecursionError:  # the parser's own guard, from ~1,000 levels
        return None, _TOO_DEEP
    except ValueError as exc:
        return None, f"not valid JSON ({str(exc)[:200]})"
    if not isinstance(data, dict):
        return None, f"a JSON {type(data).__name__ if data is not None else 'null'}, not an object"
    if json_depth_exceeds(data):
        return None, _TOO_DEEP
    return data, ""


def _truncated(text: str, size: int) -> dict:
    """``text`` cut to ``STORED_REJECTED_BODY_BYTES`` of UTF-8, with the size it had."""
    kept = text.encode()[:STORED_REJECTED_BODY_BYTES].decode("utf-8", errors="ignore")
    return {"raw": kept, "raw_bytes": size, "truncated": len(kept) < len(text)}


def _raw_payload(body: bytes, secrets: tuple[str, ...]) -> dict:
    return _truncated(_storable(_mask_text(body.decode("utf-8", errors="replace"), secrets)), len(body))


def _bounded(payload: dict, body: bytes) -> dict:
    """A refused, scrubbed JSON payload as stored: whole when its JSON fits
    ``STORED_REJECTED_BODY_BYTES``, else the start of its (already masked) JSON text."""
    text = json.dumps(payload, ensure_ascii=False)
    if len(text.encode()) <= STORED_REJECTED_BODY_BYTES:
        return payload
    return _truncated(text, len(body))


def _url_user(user_id: str) -> User | None:
    try:
        pk = uuid.UUID(user_id)
    except ValueError:
        return None
    return webhook_user(pk)


def _reject(status: int, body: dict, *, reason: str, user: User | None, ip: str | None, url_user_id: str,
            payload: dict | None) -> JsonResponse:
    """Answer ``status``; store the rejection for its user, or only count it when no known user is
    named or the user's stored refusals are over the hour's allowance."""
    logger.warning("webhook %s from %s for user %r: %s", status, ip, url_user_id[:64], reason)
    try:
        if user is None:
            webhook_rejection_count(network=source_network(ip), http_status=status, reason=reason)
        elif not _refusal_kept(user):
            webhook_rejection_count(network=source_network(ip), http_status=status,
                                    reason=f"User {user.pk}, over the hour's stored refusals: {reason}")
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
    retry_after = _rate_limited("ip", source_network(ip), settings.WEBHOOK_RATE_LIMIT_PER_IP)
    if retry_after:
        return _too_many(retry_after, "Too many requests from this address.")

    try:
        user = _url_user(user_id)
    except DatabaseError as exc:
        return _unavailable(exc, ip)
    reject = dict(user=user, ip=ip, url_user_id=user_id)

    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0  # as Django reads it: nothing
    too_large = declared > MAX_BODY_BYTES
    body = b"" if too_large else request.read(MAX_BODY_BYTES + 1)
    too_large = too_large or len(body) > MAX_BODY_BYTES
    data, not_json = (None, "") if too_large else _decode(body)

    def refused(sent_secret=None) -> dict | None:
        """A refused body as stored: secrets removed, at most STORED_REJECTED_BODY_BYTES of it
        (none when no known user is named: that rejection is only counted)."""
        if too_large or user is None:
            return None
        secrets = _secrets_to_hide(user, sent_secret)
        return _bounded(_scrub(data, secrets, top=True), body) if data is not None else _raw_payload(body, secrets)

    allowed = _networks(tuple(settings.WEBHOOK_ALLOWED_IPS))
    if allowed:
        address = _ip(ip or "")
        if address is None or not _in(address, allowed):
            return _reject(403, {"detail": "Source address not allowed."}, payload=refused(),
                           reason=f"Source address {ip} is not in WEBHOOK_ALLOWED_IPS.", **reject)
    if too_large:
        return _reject(413, {"detail": f"Body larger than {MAX_BODY_BYTES} bytes."}, payload=None,
                       reason=f"Body of {max(declared, len(body))} bytes is over the {MAX_BODY_BYTES // 1024} KiB "
                              "limit.", **reject)
    if data is None:
        detail = (f"Invalid JSON payload: {_TOO_DEEP}." if not_json == _TOO_DEEP
                  else "Invalid JSON payload: the body must be a JSON object.")
        return _reject(400, {"detail": detail}, payload=refused(),
                       reason=f"Body is {not_json}.", **reject)

    sent_secret = data.get("secret")
    if sent_secret is None or sent_secret == "":
        return _reject(401, {"detail": "Missing secret in payload."}, payload=refused(),
                       reason="Missing secret in payload.", **reject)
    expected = user.webhook_secret.encode() if user is not None else _NO_SECRET
    given = sent_secret.encode("utf-8", errors="replace") if isinstance(sent_secret, str) else b""
    if not hmac.compare_digest(given, expected) or user is None:
        reason = "Wrong webhook secret." if user is not None else f"Unknown user {user_id[:64]!r} in the URL."
        return _reject(403, FORBIDDEN, payload=refused(sent_secret), reason=reason, **reject)

    retry_after = _rate_limited("user", str(user.pk), settings.WEBHOOK_RATE_LIMIT_PER_USER)
    if retry_after:
        return _too_many(retry_after, "Too many alerts for this user.")

    payload = _scrub(data, _secrets_to_hide(user, sent_secret), top=True)
    try:
        alert = parse_alert(data, now=timezone.now(), replay_window_seconds=user.replay_window_seconds,
                            url_user_id=user.pk)
    except AlertInvalid as exc:
        return _reject(422, {"detail": exc.errors}, payload=_bounded(payload, body),
                       reason=f"Invalid alert: {errors_summary(exc.errors)}", **reject)

    try:
        signal, created = signal_accept(user=user, body=body, payload=payload, alert=alert, client_ip=ip)
    except DatabaseError as exc:
        return _unavailable(exc, ip)
    if not created:
        return JsonResponse({"status": "duplicate", "signal_id": str(signal.id)}, status=200)
    return JsonResponse({"status": "accepted", "signal_id": str(signal.id)}, status=202)
