"""A webhook body as read and as stored: JSON decoding with its limits, secrets removed, size bounded.

Numbers are parsed as ``Decimal`` (never float: ``1e999999`` would be ``inf``, which PostgreSQL's
JSON refuses, a 503 TradingView would resend forever); the payload is stored with each number as a
JSON number when a float holds it exactly, else as its exact decimal string.

Secrets are masked here rather than by the log filter's ``scrub`` (``config/log_filters.py``): the
stored body must lose the user's secret and the one sent even where no name precedes them, and a
quoted value cut off by a broken body (``{"secret": "abc``) is masked to its end.
"""

import json
import math
import re
from decimal import Decimal

from trading.alerts import MAX_JSON_DEPTH, json_depth_exceeds, json_number
from trading.models import User

# What is kept of a refused body (as UTF-8 JSON text): the filled-in alert (README "Webhook") is ~0.9 KB, so
# 4 KiB shows the trader any real alert whole, while a flood at the per-IP limit (1,200/minute)
# stores ~5 MB a minute rather than the ~77 MB that 64 KiB bodies did. Larger bodies are kept as
# their first 4 KiB of text. Accepted alerts are stored whole: routing reads them.
STORED_REJECTED_BODY_BYTES = 4 * 1024
MASK = "***"
# Secret-looking values in an unparseable body: "secret": "…", secret=…, 'webhook_secret': '…'.
_SECRET_IN_TEXT = re.compile(
    r"""(["']?[\w-]*secret[\w-]*["']?\s*[:=]\s*)("(?:[^"\\]|\\.)*"?|'[^']*'?|[^\s,;&}\]]*)""", re.IGNORECASE
)
TOO_DEEP = f"nested deeper than {MAX_JSON_DEPTH} levels"


def decode(body: bytes) -> tuple[dict | None, str]:
    """The body as a JSON object nested at most ``MAX_JSON_DEPTH`` levels, or None and why not.

    Fractions and exponents become ``Decimal``; so do NaN and ±Infinity (not JSON, but what an
    unquoted empty TradingView placeholder renders), to be refused at their field with a 422.
    The body is read as JSON whatever the Content-Type says: TradingView sends ``text/plain`` for
    some alerts and ``application/json`` for others, and a hand-made ``curl -d`` sends a form type.
    """
    if not body.strip():
        return None, "empty"
    try:
        data = json.loads(body.removeprefix(b"\xef\xbb\xbf"), parse_float=json_number, parse_constant=Decimal)
    except RecursionError:  # the parser's own guard, from ~1,000 levels
        return None, TOO_DEEP
    except ValueError as exc:
        return None, f"not valid JSON ({str(exc)[:200]})"
    if not isinstance(data, dict):
        return None, f"a JSON {type(data).__name__ if data is not None else 'null'}, not an object"
    if json_depth_exceeds(data):
        return None, TOO_DEEP
    return data, ""


def stored_payload(data: dict, user: User | None, sent_secret) -> dict:
    """A decoded body as stored: without ``secret``, any other secret-named key or copy of the user's
    secret or of the one sent masked, NUL characters replaced, numbers storable."""
    return _scrub(data, _secrets_to_hide(user, sent_secret), top=True)


def refused_payload(body: bytes, data: dict | None, user: User, sent_secret=None) -> dict:
    """A refused body as stored: secrets removed, at most STORED_REJECTED_BODY_BYTES of it; an
    undecodable one as its masked text."""
    secrets = _secrets_to_hide(user, sent_secret)
    return bounded(_scrub(data, secrets, top=True), body) if data is not None else _raw_payload(body, secrets)


def bounded(payload: dict, body: bytes) -> dict:
    """A refused, scrubbed JSON payload as stored: whole when its JSON fits
    ``STORED_REJECTED_BODY_BYTES``, else the start of its (already masked) JSON text."""
    text = json.dumps(payload, ensure_ascii=False)
    if len(text.encode()) <= STORED_REJECTED_BODY_BYTES:
        return payload
    return _truncated(text, len(body))


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
    ``decode`` holds to ``MAX_JSON_DEPTH``."""
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


def _truncated(text: str, size: int) -> dict:
    """``text`` cut to ``STORED_REJECTED_BODY_BYTES`` of UTF-8, with the size it had."""
    kept = text.encode()[:STORED_REJECTED_BODY_BYTES].decode("utf-8", errors="ignore")
    return {"raw": kept, "raw_bytes": size, "truncated": len(kept) < len(text)}


def _raw_payload(body: bytes, secrets: tuple[str, ...]) -> dict:
    return _truncated(_storable(_mask_text(body.decode("utf-8", errors="replace"), secrets)), len(body))
