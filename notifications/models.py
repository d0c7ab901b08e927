"""Notification records: each trader's Telegram configuration and every message we tried to send."""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from exchanges.encryption import EncryptedTextField

DEFAULT_SIGNATURE = "Sent by your self-hosted DCA engine"

# The trader's Telegram settings by section, in the order the admin, the dashboard's form and the API list them.
TELEGRAM_SETTINGS = {
    "Connection": ("enabled", "bot_token", "channel_id", "channel_name", "engine_signature"),
    "Message types": (
        "send_entry_signals",
        "send_exit_signals",
        "send_status_updates",
        "send_dca_fill_updates",
        "send_pyramid_updates",
        "send_tp_hit_updates",
        "send_failure_alerts",
        "send_risk_alerts",
    ),
    "Advanced": (
        "update_existing_message",
        "update_on_pyramid",
        "show_unrealized_pnl",
        "show_invested_amount",
        "show_duration",
        "alert_loss_threshold_percent",
        "alert_profit_threshold_percent",
    ),
    "Quiet hours (your time zone)": (
        "quiet_hours_enabled",
        "quiet_hours_start",
        "quiet_hours_end",
        "quiet_hours_urgent_only",
    ),
}
TELEGRAM_SETTINGS_FIELDS = tuple(name for names in TELEGRAM_SETTINGS.values() for name in names)


class TelegramConfig(models.Model):
    """Where and what to broadcast on Telegram for one trader (reference §7.1, one row per user)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="telegram_config")
    # Connection
    enabled = models.BooleanField(default=False)
    bot_token = EncryptedTextField(blank=True, help_text="Write-only; stored encrypted.")
    channel_id = models.CharField(max_length=64, blank=True, help_text="@channelname or -100123456789")
    channel_name = models.CharField(max_length=100, default="DCA Engine Signals")
    engine_signature = models.TextField(default=DEFAULT_SIGNATURE, blank=True)
    # Message types
    send_entry_signals = models.BooleanField(default=True)
    send_exit_signals = models.BooleanField(default=True)
    send_status_updates = models.BooleanField(default=True)
    send_dca_fill_updates = models.BooleanField(default=True)
    send_pyramid_updates = models.BooleanField(default=True)
    send_tp_hit_updates = models.BooleanField(default=True)
    send_failure_alerts = models.BooleanField(default=True)
    send_risk_alerts = models.BooleanField(default=True)
    # Advanced
    update_existing_message = models.BooleanField(default=True)
    update_on_pyramid = models.BooleanField(default=True)
    show_unrealized_pnl = models.BooleanField(default=True)
    show_invested_amount = models.BooleanField(default=True)
    show_duration = models.BooleanField(default=True)
    alert_loss_threshold_percent = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    alert_profit_threshold_percent = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    # Quiet hours, in the user's time zone
    quiet_hours_enabled = models.BooleanField(default=False)
    quiet_hours_start = models.TimeField(null=True, blank=True)
    quiet_hours_end = models.TimeField(null=True, blank=True)
    quiet_hours_urgent_only = models.BooleanField(default=True)
    # Last permanent delivery problem (bad token, chat not found), shown in settings until fixed.
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Telegram configuration"

    def __str__(self) -> str:
        return f"Telegram for {self.user}"

    def clean(self) -> None:
        errors = {}
        if self.enabled and not (self.bot_token and self.channel_id):
            errors["enabled"] = ["Add the bot token and channel id before enabling Telegram."]
        if self.quiet_hours_enabled and (self.quiet_hours_start is None or self.quiet_hours_end is None):
            errors["quiet_hours_enabled"] = ["Set both quiet_hours_start and quiet_hours_end (e.g. 22:00 and 08:00)."]
        if self.alert_loss_threshold_percent is not None and self.alert_loss_threshold_percent >= 0:
            errors["alert_loss_threshold_percent"] = ["Use a negative percent, e.g. -5."]
        if self.alert_profit_threshold_percent is not None and self.alert_profit_threshold_percent <= 0:
            errors["alert_profit_threshold_percent"] = ["Use a positive percent, e.g. 5."]
        if errors:
            raise ValidationError(errors)


class Notification(models.Model):
    """One message to Telegram: what, for which group, and what became of it."""

    class EventType(models.TextChoices):
        ENTRY = "entry", "Entry"
        PYRAMID = "pyramid", "Pyramid added"
        DCA_FILL = "dca_fill", "DCA fill"
        STATUS = "status", "Status change"
        TP_HIT = "tp_hit", "Take-profit hit"
        EXIT = "exit", "Exit"
        RISK = "risk", "Risk event"
        FAILURE = "failure", "Failure"
        THRESHOLD = "threshold", "Loss/profit threshold"
        TEST = "test", "Test message"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Skipped (toggle or quiet hours)"
        RETRYING = "retrying", "Retrying"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    group = models.ForeignKey(
        "trading.PositionGroup", null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    event_type = models.CharField(max_length=12, choices=EventType.choices)
    is_urgent = models.BooleanField(default=False)
    is_edit = models.BooleanField(default=False, help_text="Edits the group's existing message.")
    topic = models.CharField(
        max_length=32,
        blank=True,
        help_text="Threshold alerts: 'loss:crossed', 'loss:cleared', 'profit:…' (sent once per crossing).",
    )
    text = models.TextField()
    chat_id = models.CharField(max_length=64, blank=True)
    telegram_message_id = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["group", "telegram_message_id"], name="notification_group_message")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.status}"

    def clean(self) -> None:
        if self.is_edit and not self.group_id:
            raise ValidationError({"is_edit": ["Only a position group's message can be edited."]})
