"""Celery tasks of the risk engine."""

import logging
from datetime import timedelta

from celery import shared_task
from django.db.models import DurationField, ExpressionWrapper, F, Q
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
    from trading.models import PositionGroup, RiskConfig
    from trading.states import GROUP_TRADING_STATUSES

    now = timezone.now()
    with_positions = PositionGroup.objects.filter(status__in=GROUP_TRADING_STATUSES).values("user_id")
    due = Q(last_evaluated_at__isnull=True) | Q(
        last_evaluated_at__lte=now
        - ExpressionWrapper(F("evaluate_interval_seconds") * timedelta(seconds=1), output_field=DurationField())
    )
    for user_id in RiskConfig.objects.filter(due, user_id__in=with_positions).values_list("user_id", flat=True):
        evaluate_risk_task.delay(str(user_id))
