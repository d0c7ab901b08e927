"""The dashboard's form of the trader's Telegram settings (the bot token is write-only, as in the admin)."""

from django import forms

from exchanges.forms import ConstraintMessagesForm, WriteOnlySecretsForm
from notifications.models import TELEGRAM_SETTINGS_FIELDS, TelegramConfig


class TelegramConfigForm(WriteOnlySecretsForm, ConstraintMessagesForm):
    """Where and what to send on Telegram, checked by ``TelegramConfig.clean()``; the bot token is write-only."""

    secret_fields = ("bot_token",)

    class Meta:
        model = TelegramConfig
        fields = TELEGRAM_SETTINGS_FIELDS
        widgets = {
            "quiet_hours_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_hours_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "engine_signature": forms.Textarea(attrs={"rows": 2, "cols": 60}),
        }
        labels = {
            "alert_loss_threshold_percent": "Alert when a position's loss reaches (%)",
            "alert_profit_threshold_percent": "Alert when a position's profit reaches (%)",
        }
