"""Celery tasks of the risk engine."""

import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True, expires=60)
def evaluate_risk_task(user_id: str) -> None:
    from risk.evaluation import risk_evaluate
    from trading.models import User

    user = User.objects.filter(pk=user_id).first()
    if user is not None:
        risk_evaluate(user=user)


@shared_task(ignore_result=True)
def dispatch_risk_evaluations_task() -> None:
    """Beat: evaluate every user with open positions whose evaluate_interval_seconds has passed."""
    from risk.models import RiskConfig
    from trading.models import PositionGroup

    now = timezone.now()
    with_positions = PositionGroup.objects.filter(status__in=["live", "partially_filled", "active"]).values("user_id")
    # Compared in Python: interval arithmetic in SQL differs between PostgreSQL and SQLite.
    configs = RiskConfig.objects.filter(user_id__in=with_positions).values_list(
        "user_id", "last_evaluated_at", "evaluate_interval_seconds"
    )
    for user_id, last, interval in configs:
        if last is None or last <= now - timedelta(seconds=interval):
            evaluate_risk_task.delay(str(user_id))
