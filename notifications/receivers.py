"""Every user gets their TelegramConfig row when the user is created (admin, demo, API alike)."""

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from notifications.models import TelegramConfig


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="notifications-create-TelegramConfig")
def create_notifications_row_for_new_user(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        TelegramConfig.objects.get_or_create(user=instance)


@receiver(post_save, sender=TelegramConfig, dispatch_uid="notifications-forget-enabled")
def forget_cached_enabled_flag(sender, instance, **kwargs):
    """This process sees the new on/off at once (others within ENABLED_CACHE_SECONDS)."""
    from notifications.sink import _enabled_cache

    _enabled_cache.pop(str(instance.user_id), None)
