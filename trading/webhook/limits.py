"""The webhook's flood guards: fixed-window counters in the cache (Redis in production).

- ``rate_limited(scope, ident, limit)``: requests per minute, per client network (``"ip"``) and per
  user (``"user"``); over the limit the view answers 429 with ``Retry-After``.
- ``refusal_kept(user)``: how many refused requests naming one user are stored an hour
  (``WEBHOOK_REFUSALS_KEPT_PER_USER_PER_HOUR``); past it a refusal is only counted.

Both fail open: with the cache unreachable a request goes through, because refusing alerts is worse
than a missing flood guard.
"""

import logging
import time

import redis
from django.conf import settings
from django.core.cache import cache

from trading.models import User

logger = logging.getLogger(__name__)

# WEBHOOK_REFUSALS_KEPT_PER_USER_PER_HOUR counts in fixed one-hour windows, like the rate limits' minutes.
REFUSAL_WINDOW_SECONDS = 3600
RATE_WINDOW_SECONDS = 60
# After the cache fails, rate limits are skipped for this long in this process, so an outage costs
# one request the cache's socket timeout instead of every request.
CACHE_RETRY_AFTER_SECONDS = 10
_REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"


class Counters:
    """Fixed-window counters in the cache, with what one process remembers about reaching it.

    The process-wide state is a cache, on purpose: the Redis clients made once per location (see
    ``client``), and until when the cache is skipped after it failed (``skip_until``, monotonic
    seconds). Neither needs sharing between processes: each finds the cache down on its own.
    """

    def __init__(self) -> None:
        self.skip_until = 0.0
        self._clients: dict[str, redis.Redis] = {}

    def skipping(self) -> bool:
        """Whether the cache failed less than CACHE_RETRY_AFTER_SECONDS ago in this process."""
        return time.monotonic() < self.skip_until

    def client(self) -> redis.Redis | None:
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
        client = self._clients.get(location)
        if client is None:
            timeouts = {key: value for key, value in config.get("OPTIONS", {}).items() if key.startswith("socket_")}
            client = self._clients[location] = redis.Redis.from_url(location, **timeouts)
        return client

    def count(self, key: str, window_seconds: int = RATE_WINDOW_SECONDS) -> int:
        """Add one to the counter ``key`` (kept two windows, then dropped) and return its value."""
        client = self.client()
        if client is not None:
            pipe = client.pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, window_seconds * 2)
            return pipe.execute()[0]
        try:  # any other cache backend (the file cache of the embedded default)
            return cache.incr(key)
        except ValueError:  # first request of the window
            return 1 if cache.add(key, 1, timeout=window_seconds * 2) else cache.incr(key)


counters = Counters()


def rate_limited(scope: str, ident: str, limit: int) -> int | None:
    """Count this request in its fixed one-minute window, in the cache (Redis in production).

    Returns the seconds until the window ends when over ``limit``, else None. Fails open: with the
    cache unreachable the request goes through, because refusing alerts is worse than a missing
    flood guard; the cache is tried again after CACHE_RETRY_AFTER_SECONDS.
    """
    if limit <= 0 or counters.skipping():
        return None
    now = time.time()
    window = int(now // RATE_WINDOW_SECONDS)
    try:
        count = counters.count(f"webhook-rate:{scope}:{ident}:{window}")
    except ValueError:
        return None  # the key expired between add and incr: a new window has begun
    except Exception as exc:
        counters.skip_until = time.monotonic() + CACHE_RETRY_AFTER_SECONDS
        logger.warning(
            "webhook rate limits skipped for %s s, cache unavailable (%s: %s)",
            CACHE_RETRY_AFTER_SECONDS,
            type(exc).__name__,
            exc,
        )
        return None
    if count <= limit:
        return None
    retry_after = max(1, int((window + 1) * RATE_WINDOW_SECONDS - now + 0.999))
    if count == limit + 1:  # once per window and key; Django's request log notes every 429
        logger.warning(
            "webhook rate limit: %s %s over %s requests/minute; refusing for %s s", scope, ident, limit, retry_after
        )
    return retry_after


def refusal_kept(user: User) -> bool:
    """Whether a refused request naming ``user`` is still within the hour's
    ``WEBHOOK_REFUSALS_KEPT_PER_USER_PER_HOUR`` stored rows (past it, it is only counted).

    Anyone who knows a trader's URL can post to it without the secret; this caps what they can make
    the database keep for that trader. Fails toward keeping the (4 KiB-bounded) row if the cache is down.
    """
    limit = settings.WEBHOOK_REFUSALS_KEPT_PER_USER_PER_HOUR
    if limit <= 0 or counters.skipping():
        return True
    hour = int(time.time() // REFUSAL_WINDOW_SECONDS)
    try:
        return counters.count(f"webhook-refusals:{user.pk}:{hour}", REFUSAL_WINDOW_SECONDS) <= limit
    except Exception:  # the rate limiter, which ran first, has logged the cache's state
        return True
