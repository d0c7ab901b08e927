"""The notifications app's sink for domain events (``core.events``), registered by ``NotificationsConfig.ready()``.

For a trader without Telegram an event costs nothing: ``telegram_enabled`` answers from a short
per-process cache, and ``core.events.emit`` then schedules nothing. For the others, after commit,
``enqueue_notification`` hands the event to ``notify_event_task``, which decides what to send.
"""

import logging
import time

logger = logging.getLogger(__name__)

# A trader's "Telegram on?" answer is reused this long in a process: an event for a trader without
# Telegram then costs nothing (no task publish, 0.8 ms; no query); turning it on takes effect
# within this many seconds.
ENABLED_CACHE_SECONDS = 5.0
_enabled_cache: dict[str, tuple[bool, float]] = {}


def telegram_enabled(user_id: str) -> bool:
    from notifications.models import TelegramConfig

    now = time.monotonic()
    cached = _enabled_cache.get(user_id)
    if cached is not None and cached[1] > now:
        return cached[0]
    enabled = TelegramConfig.objects.filter(user_id=user_id, enabled=True).exists()
    _enabled_cache[user_id] = (enabled, now + ENABLED_CACHE_SECONDS)
    return enabled


def enqueue_notification(event_type: str, user_id, group_id, data: dict) -> None:
    from notifications.tasks import notify_event_task

    try:
        notify_event_task.delay(event_type, user_id, group_id, data)
    except Exception:  # broker down (or, eagerly, a failure in delivery): the trade stands
        logger.warning("could not enqueue the %s notification", event_type, exc_info=True)
