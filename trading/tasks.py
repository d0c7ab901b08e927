"""Celery tasks of the trading app: thin wrappers that load ids and call one service."""

from celery import shared_task

from trading.services.heartbeat import heartbeat_record


@shared_task(ignore_result=True)
def heartbeat_task() -> None:
    """Run by beat; proves beat schedules and a worker executes (shown on /healthz)."""
    heartbeat_record(names=("beat", "worker"))
