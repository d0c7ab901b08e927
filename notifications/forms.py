"""The dashboard's form of the trader's Telegram settings (the bot token is write-only, as in the admin)."""

from django import forms

from exchanges.forms import ConstraintMessagesForm, WriteOnlySecretsForm
from notifications.models import TelegramConfig


class TelegramConfigForm(WriteOnlySecretsForm, ConstraintMessagesForm):
    """Where and what to send on Telegram, checked by ``TelegramConfig.clean()``; the bot token is write-only."""

    secret_fields = ("bot_token",)

    class Meta:
        model = TelegramConfig
        fields = (
            "enabled",
            "bot_token",
            "channel_id",
            "channel_name",
            "engine_signature",
            "send_entry_signals",
            "send_exit_signals",
            "send_status_updates",
            "send_dca_fill_updates",
            "send_pyramid_updates",
            "send_tp_hit_updates",
            "send_failure_alerts",
            "send_risk_alerts",
            "update_existing_message",
            "update_on_pyramid",
            "show_unrealized_pnl",
            "show_invested_amount",
            "show_duration",
            "alert_loss_threshold_percent",
            "alert_profit_threshold_percent",
            "quiet_hours_enabled",
            "quiet_hours_start",
            "quiet_hours_end",
            "quiet_hours_urgent_only",
        )
        widgets = {
            "quiet_hours_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_hours_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "engine_signature": forms.Textarea(attrs={"rows": 2, "cols": 60}),
        }
        labels = {
            "alert_loss_threshold_percent": "Alert when a position's loss reaches (%)",
            "alert_profit_threshold_percent": "Alert when a position's profit reaches (%)",
        }
