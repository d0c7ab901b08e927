"""A saved user (rotated secret, deactivated) is forgotten by this process's webhook user cache."""

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from trading.selectors import forget_webhook_user


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="trading-forget-webhook-user")
def forget_saved_user(sender, instance, **kwargs):
    forget_webhook_user(instance.pk)
