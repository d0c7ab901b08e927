"""One request budget per exchange account, shared by every worker process.

ccxt's built-in rate limiter spaces requests inside one process only. Our web, worker and beat
processes all talk to the same exchange account, so left alone they add up to several times the
limit and the exchange answers 429 — or, for Binance, 418 and an IP ban that grows with each
offence. This module gives each (exchange id, account key) one token bucket in Redis:

- Every HTTP request takes ``cost`` tokens first (ccxt's own per-endpoint cost, so the shared
  bucket speaks the same units as ccxt's limiter). When the bucket is short, the request reserves
  its tokens and sleeps until they have refilled; when that wait would exceed ``max_wait`` seconds
  it raises ``RateLimited`` instead, so a task gives its worker back and retries later.
- When the exchange answers 429/418 with ``Retry-After``, ``block(seconds)`` records "blocked until"
  for the account, and every process refuses (or briefly waits) until then instead of each one
  finding out the hard way.

Both steps are one Lua script each, so concurrent workers never both spend the last token. Time is
Redis's own clock (``TIME``), so workers on hosts with skewed clocks still agree.

Without ``settings.REDIS_URL`` (the embedded local default) there is no shared store: the fallback
``LocalRateBudget`` only remembers "blocked until" inside this process and leaves request spacing to
ccxt's own per-process limiter. That is enough for one machine running a few processes at demo load.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime

from django.conf import settings

from exchanges.connector import RateLimited, RetryableError

logger = logging.getLogger(__name__)

# A wait longer than this gives the worker back (RateLimited) rather than holding it asleep. Five
# seconds covers the ordinary queueing of a busy minute (Binance spot: 6,000 weight/min ≈ 100/s)
# while staying far inside a task's soft time limit (CELERY_TASK_SOFT_TIME_LIMIT, 120 s).
DEFAULT_MAX_WAIT_SECONDS = 5.0
# The bucket holds one second's worth of tokens: a short burst (a fill sync touching a few symbols)
# goes out at once, and nothing can save up a minute of requests and spend it in one go.
BURST_SECONDS = 1.0
# A 429 without Retry-After still pauses every worker briefly, so they do not all retry at once.
FALLBACK_BLOCK_SECONDS = 2.0

_TAKE_SCRIPT = """
-- KEYS[1]: bucket hash {tokens, ts}; KEYS[2]: blocked-until (ms since epoch, Redis clock)
-- ARGV: rate (tokens/s), capacity, cost, max_wait (ms)
-- Returns {outcome, wait_ms}: 1 = granted (sleep wait_ms, then send), 0 = refused (wait too long,
-- nothing reserved), 2 = blocked by the exchange's Retry-After (nothing reserved).
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local blocked_until = tonumber(redis.call('GET', KEYS[2]) or '0')
if blocked_until > now then
  return {2, blocked_until - now}
end
local rate = tonumber(ARGV[1]) / 1000
local capacity = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local max_wait = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or capacity
local ts = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens < cost then
  wait = math.ceil((cost - tokens) / rate)
end
if wait > max_wait then
  return {0, wait}
end
-- Reserve now (tokens may go below zero): later callers queue behind this one, first come first served.
tokens = tokens - cost
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
-- An idle bucket is simply full; let Redis forget it once it would have refilled.
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate) + 1000)
return {1, wait}
"""

_BLOCK_SCRIPT = """
-- KEYS[1]: blocked-until; ARGV[1]: seconds. Only ever extends a block, never shortens one.
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local until_ms = now + math.ceil(tonumber(ARGV[1]) * 1000)
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ms > current then
  redis.call('SET', KEYS[1], tostring(until_ms), 'PX', until_ms - now)
end
return until_ms
"""


class RateBudget:
    """What the ccxt connector asks before every HTTP request, and tells after a 429/418."""

    def acquire(self, cost: float = 1.0) -> None:
        """Return when a request of ``cost`` may go out; RateLimited when that is too far off."""
        raise NotImplementedError

    def block(self, seconds: float) -> None:
        """The exchange said stop for ``seconds``: pause every user of this budget until then."""
        raise NotImplementedError


class RedisRateBudget(RateBudget):
    """A token bucket in Redis for one (exchange id, account key), shared by all processes."""

    def __init__(
        self,
        redis_client,
        *,
        exchange_id: str,
        account_key: str,
        per_second: float,
        capacity: float | None = None,
        max_wait: float = DEFAULT_MAX_WAIT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self.exchange_id = exchange_id
        self.account_key = account_key
        self.per_second = float(per_second)
        self.capacity = float(capacity if capacity is not None else per_second * BURST_SECONDS)
        self.max_wait = float(max_wait)
        self._sleep = sleep
        prefix = f"exchanges:rate-budget:{exchange_id}:{account_key}"
        self.bucket_key = f"{prefix}:bucket"
        self.blocked_key = f"{prefix}:blocked-until"
        self._take = redis_client.register_script(_TAKE_SCRIPT)
        self._block = redis_client.register_script(_BLOCK_SCRIPT)

    def acquire(self, cost: float = 1.0) -> None:
        cost = max(float(cost or 0), 0.0)
        if cost == 0:
            return  # ccxt prices some endpoints at zero (e.g. Binance ticker/price)
        while True:
            outcome, wait_ms = self._run(
                self._take,
                [self.bucket_key, self.blocked_key],
                [self.per_second, self.capacity, cost, int(self.max_wait * 1000)],
            )
            wait = int(wait_ms) / 1000
            if outcome == 1:
                if wait > 0:
                    self._sleep(wait)
                return
            if outcome == 2 and wait <= self.max_wait:
                self._sleep(wait)  # sit out the exchange's Retry-After, then queue for tokens again
                continue
            if outcome == 2:
                raise RateLimited(
                    f"{self.exchange_id} asked us to pause this account for {wait:.0f} s more (Retry-After); "
                    f"the request was not sent.",
                    retry_after=wait,
                )
            raise RateLimited(
                f"{self.exchange_id} request budget for this account is spent for the next {wait:.1f} s; "
                f"the request was not sent.",
                retry_after=wait,
            )

    def block(self, seconds: float) -> None:
        if seconds > 0:
            self._run(self._block, [self.blocked_key], [seconds])
            logger.warning(
                "%s account %s blocked for %.1f s after a rate-limit answer",
                self.exchange_id,
                self.account_key,
                seconds,
            )

    def _run(self, script, keys, args):
        import redis

        try:
            return script(keys=keys, args=args)
        except redis.RedisError as exc:
            # Without the shared budget we could overrun the exchange's limit; better to wait.
            raise RetryableError(f"Rate budget store (Redis) unavailable: {exc}") from exc


class LocalRateBudget(RateBudget):
    """The no-Redis fallback: remembers "blocked until" within this process only.

    Request spacing is left to ccxt's own per-process limiter, which every connector keeps on.
    """

    def __init__(
        self,
        *,
        exchange_id: str,
        max_wait: float = DEFAULT_MAX_WAIT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.exchange_id = exchange_id
        self.max_wait = float(max_wait)
        self._sleep = sleep
        self._blocked_until = 0.0
        self._lock = threading.Lock()

    def acquire(self, cost: float = 1.0) -> None:
        with self._lock:
            wait = self._blocked_until - time.monotonic()
        if wait <= 0:
            return
        if wait > self.max_wait:
            raise RateLimited(
                f"{self.exchange_id} asked us to pause for {wait:.0f} s more (Retry-After); the request was not sent.",
                retry_after=wait,
            )
        self._sleep(wait)

    def block(self, seconds: float) -> None:
        with self._lock:
            self._blocked_until = max(self._blocked_until, time.monotonic() + seconds)


# --- Construction ----------------------------------------------------------------------------

_redis_clients: dict[str, object] = {}
_local_budgets: dict[tuple[str, str], LocalRateBudget] = {}
_registry_lock = threading.Lock()


def _redis_client(url: str):
    import redis

    with _registry_lock:
        if url not in _redis_clients:
            # One connection pool per process; redis-py re-creates it after a fork.
            _redis_clients[url] = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        return _redis_clients[url]


def rate_budget_for(exchange_id: str, account_key: str, *, per_second: float) -> RateBudget:
    """The budget for one exchange account.

    ``per_second`` is the default refill rate in ccxt cost units (ccxt's ``1000 / rateLimit``);
    ``settings.EXCHANGE_RATE_BUDGET_PER_SECOND`` overrides it for every exchange.
    """
    configured = getattr(settings, "EXCHANGE_RATE_BUDGET_PER_SECOND", None)
    max_wait = float(getattr(settings, "EXCHANGE_RATE_BUDGET_MAX_WAIT_SECONDS", DEFAULT_MAX_WAIT_SECONDS))
    redis_url = getattr(settings, "REDIS_URL", "")
    if not redis_url:
        with _registry_lock:
            key = (exchange_id, account_key)
            if key not in _local_budgets:
                _local_budgets[key] = LocalRateBudget(exchange_id=exchange_id, max_wait=max_wait)
            return _local_budgets[key]
    return RedisRateBudget(
        _redis_client(redis_url),
        exchange_id=exchange_id,
        account_key=account_key,
        per_second=float(configured) if configured else per_second,
        max_wait=max_wait,
    )


def retry_after_seconds(headers) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not headers:
        return None
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    value = str(value).strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError, OverflowError):
        return None
