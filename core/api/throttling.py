"""Request budgets for the API: per trader, per client address, and a strict one for the token endpoint.

DRF's throttles with two changes:

- The rates are read from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` on every request. DRF copies
  that dict onto its classes once, at import, so ``override_settings`` (and a test's ``settings``
  fixture) would otherwise not reach them.
- A cache outage lets the request through, as the webhook's rate limits do: with Redis down, a
  trader can still read positions and close one, which matters more than a request budget. The
  cache client's socket timeouts (config/settings.py) bound what the failed call costs.

The counts live in Django's default cache: Redis when ``REDIS_URL`` is set, shared by every web
process, so a budget is per installation, not per gunicorn worker.
"""

import logging

from redis.exceptions import RedisError
from rest_framework import throttling
from rest_framework.settings import api_settings

logger = logging.getLogger(__name__)

# The scope of ``AuthTokenRateThrottle`` in DEFAULT_THROTTLE_RATES.
AUTH_TOKEN_SCOPE = "auth-token"


class _SettingsRatesFailOpen:
    @property
    def THROTTLE_RATES(self):  # noqa: N802  (DRF's attribute name)
        return api_settings.DEFAULT_THROTTLE_RATES

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError) as exc:  # OSError: the file cache of the embedded default
            logger.warning(
                "API throttle %s skipped, cache unavailable (%s: %s)",
                getattr(self, "scope", "?"),
                type(exc).__name__,
                exc,
            )
            return True


class AnonRateThrottle(_SettingsRatesFailOpen, throttling.AnonRateThrottle):
    """Requests without credentials, per client address (scope ``anon``)."""


class UserRateThrottle(_SettingsRatesFailOpen, throttling.UserRateThrottle):
    """Requests of one signed-in trader, session or token alike (scope ``user``)."""


class AuthTokenRateThrottle(_SettingsRatesFailOpen, throttling.SimpleRateThrottle):
    """Attempts at ``POST /api/v1/auth/token/`` per client address, right or wrong (scope ``auth-token``).

    Counted per address, not per username, so guessing many usernames from one address is slowed
    as much as guessing one username's password.
    """

    scope = AUTH_TOKEN_SCOPE

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
