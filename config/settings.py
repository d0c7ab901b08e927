"""Settings, read from the environment (12-factor) with embedded defaults that need no server.

Unset, everything runs from files under ``var/``: the embedded PostgreSQL server that ``make run``
starts (``config/embedded_db.py``), Celery over kombu's filesystem transport, a generated SECRET_KEY
and a generated Fernet key. Set ``DATABASE_URL`` and ``REDIS_URL`` for a PostgreSQL server and Redis
of your own. ``DJANGO_ENV=production`` refuses to start without an
explicit SECRET_KEY and FIELD_ENCRYPTION_KEYS, so a production host never runs on throwaway keys.
"""

import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from celery.schedules import schedule
from cryptography.fernet import Fernet
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
PRODUCTION = DJANGO_ENV == "production"

VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _local_secret(name: str, make) -> str:
    """Read a secret kept under var/, creating it on first use (development only)."""
    path = VAR_DIR / name
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def _required_in_production(name: str, local_file: str, make) -> str:
    if name in env.ENVIRON:
        return env.str(name)
    if PRODUCTION:
        raise ImproperlyConfigured(f"{name} must be set when DJANGO_ENV=production")
    return _local_secret(local_file, make)


SECRET_KEY = _required_in_production("SECRET_KEY", "secret_key", lambda: secrets.token_urlsafe(50))
# Comma-separated Fernet keys; the first encrypts, all decrypt (MultiFernet rotation).
FIELD_ENCRYPTION_KEYS = [
    key.strip()
    for key in _required_in_production(
        "FIELD_ENCRYPTION_KEYS", "fernet.key", lambda: Fernet.generate_key().decode()
    ).split(",")
    if key.strip()
]

DEBUG = env.bool("DEBUG", default=not PRODUCTION)
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[urlsplit(PUBLIC_BASE_URL).hostname] if PRODUCTION else ["*"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[PUBLIC_BASE_URL])
USE_X_FORWARDED_HOST = env.bool("USE_X_FORWARDED_HOST", default=False)
SECURE_PROXY_SSL = env.bool("SECURE_PROXY_SSL", default=False)
if SECURE_PROXY_SSL:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Behind a TLS proxy, browsers are told to use HTTPS only, for a year by default (SecurityMiddleware
# sends it on HTTPS answers only). Subdomains are left out unless asked: they may not all speak HTTPS.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000) if SECURE_PROXY_SSL else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = PRODUCTION

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our static files (the CSP allows no CDN)
    "django_celery_beat",
    "csp",
    "axes",
    "trading",
    "risk",
    "notifications",
    "exchanges",
    "jobs",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its lockout page.
    "axes.middleware.AxesMiddleware",
]

# Content-Security-Policy: scripts, styles, images and requests from this site only; no inline
# script or style, no eval, no framing. The pages keep their JavaScript in static files (htmx,
# dashboard.js) and htmx is told not to inject its indicator <style> (templates/base.html).
# Images may also be data: URIs (Swagger UI's icons).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "trading.User"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
# Django's four checks, for every password a person sets (createsuperuser, admin, `demo --password`).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]
# django-axes first: it refuses a locked-out username + address before any password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "jobs.context_processors.requested_job",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# PostgreSQL everywhere. Without DATABASE_URL, the embedded server that `make run` starts under
# var/postgres/ (config/embedded_db.py): its socket is read from var/, so manage.py commands reach it
# while `make run` is up, and say what to do when it is not (manage.py).
from config import embedded_db  # noqa: E402  (kept inside this block)

DATABASE_URL = env.str("DATABASE_URL", default="")
EMBEDDED_DATABASE = not DATABASE_URL
if EMBEDDED_DATABASE:
    if PRODUCTION:
        raise ImproperlyConfigured("DATABASE_URL must be set when DJANGO_ENV=production (a PostgreSQL server)")
    # Not up: the socket's place all the same, so a command that needs the database fails on connect.
    DATABASE_URL = embedded_db.running_url(VAR_DIR) or f"postgres://postgres@/{VAR_DIR / 'postgres'}/engine"
if DATABASE_URL.split(":", 1)[0] not in ("postgres", "postgresql", "pgsql", "postgis"):
    raise ImproperlyConfigured(
        f"DATABASE_URL={DATABASE_URL.split(':', 1)[0]}://…: only PostgreSQL is supported (SQLite stored money as "
        "floating point and lacked SQL the engine uses). Set DATABASE_URL=postgres://user:password@host:5432/dbname, "
        "or unset it: `make run` then starts an embedded PostgreSQL under var/postgres/."
    )
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache and Celery ----------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    # Shared by web, worker and beat (market lists, webhook rate limits), so not a per-process cache.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's own transport with atomic message files: its writer races its reader (config/broker.py).
    CELERY_BROKER_TRANSPORT = "config.broker:Transport"
    _broker_dir = VAR_DIR / "celery-broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Every folder under var/: kombu's default control folder is ./control in the working directory.
        "control_folder": str(_broker_dir / "control"),
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        # The worker polls the folder; 0.1 s keeps a signal's grid on the exchange well within a second.
        "polling_interval": 0.1,
    }
else:
    # No task countdown may exceed this, or Redis would hand the task to a second worker.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=120)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=150)
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
HEARTBEAT_INTERVAL_SECONDS = env.int("HEARTBEAT_INTERVAL_SECONDS", default=15)
# /healthz shows why a part is down (hosts, ports, error text) to staff sessions and to requests
# sending "Authorization: Bearer <HEALTHZ_TOKEN>"; empty: to staff only.
HEALTHZ_TOKEN = env.str("HEALTHZ_TOKEN", default="")


def every(seconds: float, task: str) -> dict:
    """A beat entry that expires before its next run, so a backlog never piles up behind a dead worker.

    ``expire_seconds``, not Celery's ``expires``: DatabaseScheduler keeps only its own option names
    when it copies the schedule into the database, and beat sends what the database holds.
    """
    return {"task": task, "schedule": schedule(seconds), "options": {"expire_seconds": max(1, int(seconds * 0.9))}}


# Declared in code; DatabaseScheduler copies them into the database, where admin can edit them.
CELERY_BEAT_SCHEDULE = {"engine-heartbeat": every(HEARTBEAT_INTERVAL_SECONDS, "trading.tasks.heartbeat_task")}

# --- Exchanges ------------------------------------------------------------------------------
MARKETS_CACHE_SECONDS = env.int("MARKETS_CACHE_SECONDS", default=3600)
# Requests per second one exchange account may make, shared by every worker through Redis
# (empty: 1000 / ccxt's rateLimit, e.g. 20/s on Binance, 50/s on Bybit, in ccxt cost units).
EXCHANGE_RATE_BUDGET_PER_SECOND = env.float("EXCHANGE_RATE_BUDGET_PER_SECOND", default=None)
EXCHANGE_RATE_BUDGET_MAX_WAIT_SECONDS = env.float("EXCHANGE_RATE_BUDGET_MAX_WAIT_SECONDS", default=5.0)
PAPER_TICK_SECONDS = env.float("PAPER_TICK_SECONDS", default=2.0)
# Standard deviation of one synthetic step, in percent. 0.1 % every 2 s wanders about 2 % in
# 13 minutes, so the demo grid (legs 0.5 % apart) fills while you watch.
PAPER_SYNTHETIC_VOLATILITY_PERCENT = env.float("PAPER_SYNTHETIC_VOLATILITY_PERCENT", default=0.1)
# Paper perpetuals' funding rate per 8 h instant (00:00, 08:00, 16:00 UTC): 0.0001 = 0.01 %, longs pay shorts
# when positive. A market's own rate (PaperMarket.funding_rate) overrides it. Settled lazily, never by a task.
PAPER_FUNDING_RATE = env.str("PAPER_FUNDING_RATE", default="0.0001")
CELERY_BEAT_SCHEDULE["paper-feed-tick"] = every(PAPER_TICK_SECONDS, "exchanges.tasks.paper_feed_tick_task")
# Paper fault drills (``manage.py paper fault``) can SIGKILL the shared workers: armed only where this
# is on, and the paper connector ignores armed faults where it is off. Off in production unless set.
PAPER_FAULTS_ALLOWED = env.bool("PAPER_FAULTS_ALLOWED", default=DJANGO_ENV in ("development", "test"))
# Seconds between the beat's balance and equity refreshes of every enabled account (0: only when the
# trader clicks Refresh). Two reads per account (balance, one ticker batch), ~50 Binance weight each time.
BALANCE_REFRESH_SECONDS = env.int("BALANCE_REFRESH_SECONDS", default=300)
if BALANCE_REFRESH_SECONDS < 0:
    raise ImproperlyConfigured("BALANCE_REFRESH_SECONDS must be 0 or more (0: refresh only on request)")
if BALANCE_REFRESH_SECONDS:
    CELERY_BEAT_SCHEDULE["refresh-balances"] = every(BALANCE_REFRESH_SECONDS, "exchanges.tasks.balances_refresh_task")
# A swap account's position mode (one_way | hedge), re-read daily: a trader may switch it on the exchange.
CELERY_BEAT_SCHEDULE["refresh-position-modes"] = every(24 * 3600, "exchanges.tasks.position_modes_refresh_task")

# --- Fill sync ------------------------------------------------------------------------------
FILL_SYNC_SECONDS = env.float("FILL_SYNC_SECONDS", default=5.0)
CELERY_BEAT_SCHEDULE["sync-fills"] = every(FILL_SYNC_SECONDS, "trading.tasks.sync_fills_task")

# Funding payments of swap positions (trading.services.funding): fetched every FUNDING_SYNC_SECONDS and
# at each swap group's close; a closed group still collects funding booked up to this many hours late.
FUNDING_SYNC_SECONDS = env.int("FUNDING_SYNC_SECONDS", default=900)
FUNDING_CLOSED_LOOKBACK_HOURS = env.int("FUNDING_CLOSED_LOOKBACK_HOURS", default=24)
CELERY_BEAT_SCHEDULE["sync-funding"] = every(FUNDING_SYNC_SECONDS, "trading.tasks.sync_funding_task")

RECONCILE_SECONDS = env.int("RECONCILE_SECONDS", default=300)
CELERY_BEAT_SCHEDULE["reconcile"] = every(RECONCILE_SECONDS, "trading.tasks.reconcile_task")
CELERY_BEAT_SCHEDULE["resend-stalled-work"] = every(30, "trading.tasks.resend_stalled_work_task")

# --- Risk -----------------------------------------------------------------------------------
# Beat looks every 5 s for users whose own evaluate_interval_seconds has passed.
CELERY_BEAT_SCHEDULE["dispatch-risk-evaluations"] = every(5, "risk.tasks.dispatch_risk_evaluations_task")

# --- Queue ----------------------------------------------------------------------------------
QUEUE_PROMOTE_SECONDS = env.int("QUEUE_PROMOTE_SECONDS", default=15)
CELERY_BEAT_SCHEDULE["promote-queue"] = every(QUEUE_PROMOTE_SECONDS, "trading.tasks.promote_queue_task")
CELERY_BEAT_SCHEDULE["expire-queue"] = every(60, "trading.tasks.expire_queue_task")

# --- Webhook --------------------------------------------------------------------------------
# Requests per minute, fixed one-minute windows counted in the cache; 0 disables a limit.
# Per user (counted after the secret is checked): 600 lets a TradingView Premium account fire all
# of its 400 alerts on the same bar close and still has room; it stops a runaway script.
WEBHOOK_RATE_LIMIT_PER_USER = env.int("WEBHOOK_RATE_LIMIT_PER_USER", default=600)
# Per client IP (counted first, before anything touches the database): every user of the
# installation reaches us from TradingView's four addresses, possibly all through one, so this is
# twice the per-user limit; it holds one flooding address to 20 stored rejections a second.
WEBHOOK_RATE_LIMIT_PER_IP = env.int("WEBHOOK_RATE_LIMIT_PER_IP", default=1200)
# IPs/CIDRs of reverse proxies whose X-Forwarded-For is believed (e.g. "127.0.0.1,10.0.0.0/8").
WEBHOOK_TRUSTED_PROXIES = env.list("WEBHOOK_TRUSTED_PROXIES", default=[])
# Empty: any source. TradingView sends from
# 52.89.214.238,34.212.75.30,54.218.53.128,52.32.178.7 (set exactly that to accept only TradingView).
WEBHOOK_ALLOWED_IPS = env.list("WEBHOOK_ALLOWED_IPS", default=[])
from ipaddress import ip_network as _ip_network  # noqa: E402  (kept inside this block)

for _name in ("WEBHOOK_TRUSTED_PROXIES", "WEBHOOK_ALLOWED_IPS"):
    for _item in globals()[_name]:
        try:
            _ip_network(_item.strip(), strict=False)
        except ValueError:
            raise ImproperlyConfigured(f"{_name}: {_item!r} is not an IP address or CIDR network") from None
# Refused requests stored per user and hour (each with at most 4 KiB of its body); more are only
# counted, per source network. Anyone who knows a trader's URL can post junk to it without the
# secret: 100 an hour shows a trader any broken template many times over, and caps what a flood
# keeps for them at ~0.4 MB an hour (~290 MB over 30 days). 0: no cap.
WEBHOOK_REFUSALS_KEPT_PER_USER_PER_HOUR = env.int("WEBHOOK_REFUSALS_KEPT_PER_USER_PER_HOUR", default=100)
if WEBHOOK_REFUSALS_KEPT_PER_USER_PER_HOUR < 0:
    raise ImproperlyConfigured("WEBHOOK_REFUSALS_KEPT_PER_USER_PER_HOUR must be 0 or more (0: no cap)")
# Days refused webhook requests are kept (stored rejections and the counts of unknown-user ones);
# beat deletes older ones every hour. 0 keeps them forever.
REJECTED_SIGNAL_RETENTION_DAYS = env.int("REJECTED_SIGNAL_RETENTION_DAYS", default=30)
if REJECTED_SIGNAL_RETENTION_DAYS < 0:
    raise ImproperlyConfigured("REJECTED_SIGNAL_RETENTION_DAYS must be a number of days, 0 or more (0: keep forever)")
CELERY_BEAT_SCHEDULE["prune-refused-signals"] = every(3600, "trading.tasks.prune_refused_signals_task")
# Seconds between sweeps re-sending stored signals whose routing task never ran.
SIGNAL_SWEEP_SECONDS = env.int("SIGNAL_SWEEP_SECONDS", default=30)
CELERY_BEAT_SCHEDULE["signal-sweep"] = every(SIGNAL_SWEEP_SECONDS, "trading.tasks.signal_sweep_task")
# The webhook publishes the routing task inside the request, and TradingView gives up after 3 s: a
# dead broker must fail fast (the signal is already stored; the sweep re-sends it). One retry
# covers a pooled connection that went stale when Redis restarted.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.1}
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # A healthy Redis answers a publish in well under a millisecond, and 0.5 s is ~100 round trips
    # even to a Redis in another region. Synchronous commands only: the worker's BRPOP is read by
    # its event loop once the reply is there (kombu's health_check_interval covers a dead one).
    # Measured (make bench BENCH=webhook): Redis stopped → 202 in ~0.1 s; Redis hung (accepts,
    # never answers) → 202 in ~1-2.5 s, inside TradingView's 3 s.
    CELERY_BROKER_TRANSPORT_OPTIONS.update({"socket_connect_timeout": 0.5, "socket_timeout": 1})
if REDIS_URL:
    # The webhook's rate limits live in the cache: without timeouts a hung Redis would hang every
    # request. Rate limiting fails open and skips the cache for 10 s after an error, so one request
    # per process waits 0.5 s at most.
    CACHES["default"].setdefault("OPTIONS", {}).update({"socket_connect_timeout": 0.25, "socket_timeout": 0.5})

# --- Logins (django-axes) -------------------------------------------------------------------
# Wrong passwords for one username from one client address before that pair is locked out, on
# /accounts/login/, /admin/login/ and the API token endpoint alike; another address or another
# username is not affected, so an attacker cannot lock a trader out everywhere.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("LOGIN_LOCKOUT_MINUTES", default=15))
if AXES_FAILURE_LIMIT < 1 or AXES_COOLOFF_TIME <= timedelta(0):
    raise ImproperlyConfigured("LOGIN_FAILURE_LIMIT must be at least 1 and LOGIN_LOCKOUT_MINUTES above 0")
# The client address as the webhook sees it: X-Forwarded-For only from WEBHOOK_TRUSTED_PROXIES.
AXES_CLIENT_IP_CALLABLE = "trading.webhook.addresses.client_ip"
AXES_RESET_ON_SUCCESS = True  # a trader who gets it right starts from zero again
# Trying again while locked out does not restart the clock: the wait shown is the wait there is.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_USERNAME_FORM_FIELD = "username"
AXES_VERBOSE = False  # no "AXES: BEGIN" line from every manage.py command

# --- Telegram -------------------------------------------------------------------------------
# Loss/profit threshold alerts: prices move without fills, so a sweep checks the open positions of
# traders who set a threshold. 30 s keeps an alert timely at one query per sweep.
TELEGRAM_THRESHOLD_SWEEP_SECONDS = env.int("TELEGRAM_THRESHOLD_SWEEP_SECONDS", default=30)
CELERY_BEAT_SCHEDULE["telegram-threshold-sweep"] = every(
    TELEGRAM_THRESHOLD_SWEEP_SECONDS, "notifications.tasks.threshold_sweep_task"
)

# --- Engine ---------------------------------------------------------------------------------
# Prefix of every client order id we send; reconciliation adopts or cancels only orders with it.
CLIENT_ORDER_ID_PREFIX = env.str("CLIENT_ORDER_ID_PREFIX", default="dce")
if not (CLIENT_ORDER_ID_PREFIX.isalnum() and 1 <= len(CLIENT_ORDER_ID_PREFIX) <= 4):
    raise ImproperlyConfigured("CLIENT_ORDER_ID_PREFIX must be 1-4 letters or digits")
TELEGRAM_API_BASE = env.str("TELEGRAM_API_BASE", default="https://api.telegram.org").rstrip("/")

# --- Background jobs ------------------------------------------------------------------------
# What a page or API call starts instead of calling an exchange or Telegram inside the request (test
# connection, Telegram test, promote, exchange sync, risk evaluation). A job no worker started within
# JOB_START_TIMEOUT_SECONDS is failed and never runs late (a promote five minutes after the click is
# not what the trader asked for); finished jobs are kept JOB_RETENTION_DAYS days.
JOB_START_TIMEOUT_SECONDS = env.int("JOB_START_TIMEOUT_SECONDS", default=300)
JOB_RETENTION_DAYS = env.int("JOB_RETENTION_DAYS", default=7)
if JOB_START_TIMEOUT_SECONDS < 1 or JOB_RETENTION_DAYS < 1:
    raise ImproperlyConfigured("JOB_START_TIMEOUT_SECONDS and JOB_RETENTION_DAYS must be at least 1")
CELERY_BEAT_SCHEDULE["jobs-tidy"] = every(60, "jobs.tasks.jobs_tidy_task")

# --- API ------------------------------------------------------------------------------------
# Request budgets, "N/period" (period: second, minute, hour or day); empty turns one off. Counted in
# the cache (Redis with REDIS_URL: one budget per installation, not per web process). A cache outage
# lets requests through (core/api/throttling.py).
import re as _re  # noqa: E402  (kept inside this block)

_THROTTLE_RATE = _re.compile(r"\d+/(s|sec|second|m|min|minute|h|hour|d|day)")


def _throttle_rate(name: str, default: str) -> str | None:
    rate = env.str(name, default=default).strip().lower()
    if rate and not _THROTTLE_RATE.fullmatch(rate):
        raise ImproperlyConfigured(f"{name}: {rate!r} is not a rate such as 600/minute (or empty for no limit)")
    return rate or None


# Per signed-in trader, session or token: 20 requests a second lets a script poll every endpoint it
# needs each second; the dashboard pages are not API requests and do not count.
API_THROTTLE_USER = _throttle_rate("API_THROTTLE_USER", "1200/minute")
# Per client address without credentials: only the schema, the docs and the token endpoint answer those.
API_THROTTLE_ANON = _throttle_rate("API_THROTTLE_ANON", "120/minute")
# Per client address on POST /api/v1/auth/token/, right or wrong password: a script needs one token,
# and a password guesser gets 10 tries a minute.
API_THROTTLE_AUTH_TOKEN = _throttle_rate("API_THROTTLE_AUTH_TOKEN", "10/minute")
# Reverse proxies in front of the web process that append the client to X-Forwarded-For (1 behind
# nginx or Caddy). 0: the connecting address is the client, and X-Forwarded-For is ignored, so a
# client cannot pick a fresh address per request to escape its budget.
API_NUM_PROXIES = env.int("API_NUM_PROXIES", default=0)

REST_FRAMEWORK = {
    # Token first: a request without credentials then answers 401 with "WWW-Authenticate: Token", which
    # tells a script what to send (with the session first it was a bare 403). Both are still tried.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "COERCE_DECIMAL_TO_STRING": True,
    # A service's refusal (core.errors.DomainError) answers {"detail": …} with its status, in one place.
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "core.api.throttling.AnonRateThrottle",
        "core.api.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": API_THROTTLE_USER,
        "anon": API_THROTTLE_ANON,
        "auth-token": API_THROTTLE_AUTH_TOKEN,
    },
    "NUM_PROXIES": API_NUM_PROXIES,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "DCA execution engine API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # A job's status appears in every "<kind>Job" answer: one named enum rather than a hashed name.
    "ENUM_NAME_OVERRIDES": {"JobStatusEnum": "jobs.states.JOB_STATUS_CHOICES"},
}

# --- Misc -----------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# The engine's routine (every periodic task and the per-cycle tasks they fan out) is not narrated at
# INFO unless LOG_ROUTINE is on (config.log_filters.QuietRoutine); what those tasks do still is.
LOG_ROUTINE = env.bool("LOG_ROUTINE", default=False)
ROUTINE_TASKS = sorted(
    {entry["task"] for entry in CELERY_BEAT_SCHEDULE.values()}
    | {
        "trading.tasks.sync_symbol_task",
        "trading.tasks.sync_prices_task",
        "trading.tasks.sync_positions_task",
        "trading.tasks.sync_funding_symbol_task",
        "risk.tasks.evaluate_risk_task",
        "exchanges.tasks.balance_refresh_task",
    }
)
# Every handler scrubs signed URLs, API keys, bot tokens and secrets from messages and tracebacks
# (config/log_filters.py); configure_logging also covers the handlers LOGGING does not declare.
LOGGING_CONFIG = "config.log_filters.configure_logging"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "scrub_secrets": {"()": "config.log_filters.ScrubSecrets"},
        "quiet_routine": {"()": "config.log_filters.QuietRoutine"},
    },
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["scrub_secrets", "quiet_routine"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
