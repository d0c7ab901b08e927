"""Read queries of the notifications app."""

from notifications.models import TelegramConfig


def telegram_config_of(user) -> TelegramConfig:
    """The user's Telegram settings row, created with the defaults when missing (a read-or-create)."""
    config, _ = TelegramConfig.objects.get_or_create(user=user)
    return config
