from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from core.api.serializers import drf_errors
from notifications.models import TelegramConfig


class TelegramConfigSerializer(serializers.ModelSerializer):
    """The trader's Telegram settings. The bot token is write-only: sent to set it, never returned;
    omitted or empty keeps the stored one. ``last_error`` shows the last permanent delivery problem."""

    bot_token = serializers.CharField(write_only=True, required=False, allow_blank=True, trim_whitespace=True)
    has_bot_token = serializers.SerializerMethodField()

    class Meta:
        model = TelegramConfig
        fields = (
            "enabled",
            "bot_token",
            "has_bot_token",
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
            "last_error",
            "last_error_at",
            "updated_at",
        )
        read_only_fields = ("last_error", "last_error_at", "updated_at")

    def get_has_bot_token(self, config: TelegramConfig) -> bool:
        return bool(config.bot_token)

    def validate(self, attrs):
        if not attrs.get("bot_token"):
            attrs.pop("bot_token", None)  # keep the stored token
        probe = TelegramConfig(
            **{f.attname: getattr(self.instance, f.attname) for f in TelegramConfig._meta.concrete_fields}
        )
        for name, value in attrs.items():
            setattr(probe, name, value)
        try:
            probe.full_clean(exclude=["user"], validate_unique=False)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(drf_errors(exc)) from None
        return attrs
