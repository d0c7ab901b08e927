"""Every user gets their RiskConfig row when the user is created (admin, demo, API alike); a loss
offset's winners go (or are left alone) when the loser's close ends; a fill sync that changed
positions evaluates the trader at once when their ``evaluate_on_fill`` is on."""

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from risk.evaluation import offset_winners_release
from risk.tasks import evaluate_risk_task
from trading.hooks import close_ended, fills_synced
from trading.models import RiskConfig


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="risk-create-RiskConfig")
def create_risk_row_for_new_user(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        RiskConfig.objects.get_or_create(user=instance)


@receiver(close_ended, dispatch_uid="risk-release-offset-winners")
def release_offset_winners(sender, group_id, closed: bool, reason: str = "", **kwargs):
    offset_winners_release(loser_group_id=group_id, loser_closed=closed, reason=reason)


@receiver(fills_synced, dispatch_uid="risk-evaluate-on-fill")
def evaluate_on_fill(sender, user_id, **kwargs):
    if RiskConfig.objects.filter(user_id=user_id, evaluate_on_fill=True).exists():
        evaluate_risk_task.delay(str(user_id))
