"""Every user gets their RiskConfig row when the user is created (admin, demo, API alike)."""

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from risk.models import RiskConfig


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="risk-create-RiskConfig")
def create_risk_row_for_new_user(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        RiskConfig.objects.get_or_create(user=instance)
