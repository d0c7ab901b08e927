"""Celery tasks of notifications: thin wrappers around ``notifications.services``."""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)

# Network errors back off 2, 4, 8, 16, 32 s; a 429 waits exactly what Telegram asked. Capped well
# below the broker's visibility timeout (3600 s) so a waiting retry is never delivered twice.
MAX_COUNTDOWN_SECONDS = 600


@shared_task(ignore_result=True)
def notify_event_task(event_type: str, user_id: str | None, group_id: str | None, data: dict) -> None:
    """Decide what a domain event sends, store it, and start delivering it."""
    from notifications.services import notification_prepare

    for notification in notification_prepare(event_type=event_type, user_id=user_id, group_id=group_id, data=data):
        notification_send_task.delay(str(notification.pk))


@shared_task(bind=True, ignore_result=True, max_retries=5)
def notification_send_task(self, notification_id: str) -> None:
    """One delivery attempt; retried after Telegram's retry_after (429) or with backoff (network, 5xx)."""
    from notifications.services import notification_deliver, notification_give_up

    result = notification_deliver(notification_id=notification_id)
    if result is None or not result.retryable:
        return
    if self.request.retries >= self.max_retries:
        notification_give_up(
            notification_id=notification_id,
            reason=f"Gave up after {self.request.retries + 1} attempts: {result.description}",
        )
        return
    countdown = result.retry_after if result.retry_after is not None else 2 ** (self.request.retries + 1)
    raise self.retry(countdown=min(countdown, MAX_COUNTDOWN_SECONDS))


@shared_task(ignore_result=True)
def threshold_sweep_task() -> None:
    """Beat: loss/profit threshold alerts for positions whose price moved (once per crossing)."""
    from notifications.services import threshold_sweep

    for notification in threshold_sweep():
        notification_send_task.delay(str(notification.pk))
