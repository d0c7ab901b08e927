from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from core.api.serializers import drf_errors
from notifications.models import TELEGRAM_SETTINGS_FIELDS, TelegramConfig


class TelegramConfigSerializer(serializers.ModelSerializer):
    """The trader's Telegram settings. The bot token is write-only: sent to set it, never returned;
    omitted or empty keeps the stored one. ``last_error`` shows the last permanent delivery problem."""

    bot_token = serializers.CharField(write_only=True, required=False, allow_blank=True, trim_whitespace=True)
    has_bot_token = serializers.SerializerMethodField()

    class Meta:
        model = TelegramConfig
        fields = (
            *TELEGRAM_SETTINGS_FIELDS[:2],  # enabled, bot_token
            "has_bot_token",
            *TELEGRAM_SETTINGS_FIELDS[2:],
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
