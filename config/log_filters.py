"""Secrets never reach a log line: one filter on every handler scrubs the message and the traceback.

Where secrets hide in what gets logged:

- **Signed exchange URLs.** ccxt puts the request URL in its exceptions ("htx GET
  https://api.huobi.pro/v1/account/accounts?AccessKeyId=<key>&…&Signature=<sig> 503 …"; Binance's
  ``…&signature=<sig>``), and the exception beneath a network error (urllib3's "Max retries exceeded
  with url: /v1/…?AccessKeyId=<key>…") does too. The query string of any absolute URL and of
  urllib3's ``with url:`` path is dropped: scheme, host and path stay, so the line still says which
  exchange and endpoint failed.
- **Credentials by name**, wherever they stand: ``name=value`` (query strings, forms, reprs),
  ``name: value`` (header lines) and ``'name': 'value'`` / ``"name": "value"`` (dicts, JSON): API keys
  (``apiKey``, ``api_key``, ``X-MBX-APIKEY``, ``X-BAPI-API-KEY``, ``OK-ACCESS-KEY``, ``AccessKeyId``),
  signatures (``signature``, ``sign``, ``X-BAPI-SIGN``), secrets (the webhook's ``"secret"`` among
  them), passphrases, passwords, tokens and ``Authorization`` headers.
- **Telegram bot tokens**, part of every Bot API URL (``/bot<token>/sendMessage``).
- **Passwords in connection URLs** (``redis://:<password>@host``, ``postgres://user:<password>@host``).

The filter rewrites the record itself (message with its arguments merged, the formatted traceback
with its whole exception chain, the stack), so every handler after it prints the scrubbed text.
``configure_logging`` (Django's ``LOGGING_CONFIG``) puts it on every handler that exists once
``LOGGING`` is applied — Django's own, gunicorn's — and ``config/celery.py`` does the same after
Celery adds its handlers in a worker or beat.
"""

import logging
import logging.config
import re

MASK = "***"

# An absolute URL's query string: everything after "?" up to whitespace, a quote or a bracket.
_URL_QUERY = re.compile(r"""(\b(?:https?|wss?)://[^\s?#"'<>]*)\?[^\s"'<>]*""", re.IGNORECASE)
# urllib3/requests name the URL as a bare path: "Max retries exceeded with url: /api/v3/account?…".
_URLLIB3_PATH_QUERY = re.compile(r"(\bwith url: [^\s?]*)\?\S*")
# scheme://user:password@host → scheme://user:***@host
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s/:@]*:)[^\s/@]+@", re.IGNORECASE)
# Telegram bot tokens ("<bot id>:<35 characters>") in Bot API URLs: /bot<token>/sendMessage.
_BOT_URL_TOKEN = re.compile(r"/bot\d+:[\w-]+")
# A name, then = or :, then a value (quoted or bare). The name is checked by _is_sensitive.
_NAMED_VALUE = re.compile(
    r"""(?<![\w-])(?P<name>[A-Za-z][\w-]*)(?P<separator>["']?\s*[:=]\s*)"""
    r"""(?:"(?P<double>[^"]*)"|'(?P<single>[^']*)'|(?P<bare>(?:(?:Token|Bearer|Basic)\s+)?[^\s"'&,;)}\]<>]+))"""
)
# Sensitive when the name, lower-cased without - and _, contains one of these...
_SENSITIVE_PARTS = ("secret", "password", "passphrase", "apikey", "accesskey", "privatekey")
# ...or its last -/_ separated word is one of these ("signal_id" is not "sign", "api_token" is "token").
_SENSITIVE_WORDS = {"signature", "sign", "token", "authorization"}
# A cheap first look for any of those names, before the slower _NAMED_VALUE: substring tests on the
# lower-cased line ("signal" alone is not "sign").
_NAME_HINTS = (
    "secret",
    "passw",
    "passphrase",
    "apikey",
    "api_key",
    "api-key",
    "accesskey",
    "access_key",
    "access-key",
    "privatekey",
    "private_key",
    "token",
    "authoriz",
)


def _may_name_a_secret(text: str) -> bool:
    lowered = text.lower()
    return any(hint in lowered for hint in _NAME_HINTS) or lowered.count("sign") > lowered.count("signal")


def _is_sensitive(name: str) -> bool:
    lowered = name.lower()
    compact = lowered.replace("-", "").replace("_", "")
    return any(part in compact for part in _SENSITIVE_PARTS) or re.split(r"[-_]", lowered)[-1] in _SENSITIVE_WORDS


def _mask_named_value(match: re.Match) -> str:
    if not _is_sensitive(match.group("name")):
        return match.group(0)
    if match.group("double") is not None:
        value = f'"{MASK}"'
    elif match.group("single") is not None:
        value = f"'{MASK}'"
    else:
        value = MASK
    return f"{match.group('name')}{match.group('separator')}{value}"


def scrub(text: str) -> str:
    """``text`` with signed URLs' query strings, credentials, bot tokens and URL passwords masked."""
    # Most lines hold no "://" and no credential's name; the guards keep them cheap (a webhook log
    # line: ~3 µs instead of ~43 µs with every pattern run, against ~1.5 ms of CPU per alert).
    if "://" in text:
        text = _URL_QUERY.sub(rf"\1?{MASK}", text)
        text = _URL_PASSWORD.sub(rf"\1{MASK}@", text)
    if "with url:" in text:
        text = _URLLIB3_PATH_QUERY.sub(rf"\1?{MASK}", text)
    if "/bot" in text:
        text = _BOT_URL_TOKEN.sub(f"/bot{MASK}", text)
    if (":" in text or "=" in text) and _may_name_a_secret(text):
        text = _NAMED_VALUE.sub(_mask_named_value, text)
    return text


class ScrubSecrets(logging.Filter):
    """Rewrites each record so that no handler prints a secret: message, traceback and stack."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call (wrong arguments): the handler reports it as usual
            return True
        scrubbed = scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        if record.exc_info and not record.exc_text:
            # Formatters print exc_text when it is set, so the scrubbed chain is what every handler shows.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


# Loggers that narrate every task (Celery) and every request (runserver, gunicorn's access log).
TASK_NARRATORS = ("celery.beat", "celery.worker.strategy", "celery.app.trace")
REQUEST_NARRATORS = ("django.server", "gunicorn.access")
QUIET_PATHS = re.compile(r'"(?:GET|HEAD) /(?:healthz|partials/)[^"]*" [23]\d\d\b')


class QuietRoutine(logging.Filter):
    """Keeps a calm terminal: drops the INFO lines of the engine's routine, which say nothing a trader or
    an operator acts on — beat sending a periodic task (the paper feed every 2 s, the fill sync every
    5 s, …), a worker receiving and finishing one, and successful polls of ``/healthz`` and of the
    pages' htmx fragments. Idle, ``make run`` printed ~290 such lines a minute. What those tasks do
    (a fill, a close, an offset) is logged by the engine's own loggers and stays; so do warnings and
    errors. ``LOG_ROUTINE=true`` shows everything.
    """

    def __init__(self):
        super().__init__()
        self._routine = None

    def _settings(self) -> tuple[bool, frozenset]:
        if self._routine is None:
            from django.conf import settings

            self._routine = (settings.LOG_ROUTINE, frozenset(settings.ROUTINE_TASKS))
        return self._routine

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO or not record.name.startswith(("celery.", "django.server", "gunicorn.")):
            return True
        show_all, tasks = self._settings()
        if show_all:
            return True
        try:
            message = record.getMessage()
        except Exception:
            return True
        if record.name in TASK_NARRATORS:
            return not any(task in message for task in tasks)
        if record.name in REQUEST_NARRATORS:
            return not QUIET_PATHS.search(message)
        return True


def install_everywhere() -> None:
    """Put ScrubSecrets and QuietRoutine on every handler of every logger that exists now (idempotent)."""
    loggers = [logging.getLogger()] + [
        logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            for kind in (ScrubSecrets, QuietRoutine):
                if not any(isinstance(existing, kind) for existing in handler.filters):
                    handler.addFilter(kind())


def configure_logging(logging_settings: dict) -> None:
    """Django's LOGGING_CONFIG: apply LOGGING, then cover the handlers it did not declare (Django's
    defaults on the ``django`` loggers, gunicorn's in a gunicorn worker)."""
    if logging_settings:
        logging.config.dictConfig(logging_settings)
    install_everywhere()
