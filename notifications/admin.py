from django.contrib import admin

from core.admin import OwnedAdmin, ReadOnlyAdmin
from exchanges.forms import PLAIN_NUMBERS, WriteOnlySecretsForm
from notifications.models import TELEGRAM_SETTINGS, Notification, TelegramConfig


class TelegramConfigForm(WriteOnlySecretsForm):
    secret_fields = ("bot_token",)

    class Meta:
        model = TelegramConfig
        fields = "__all__"


@admin.register(TelegramConfig)
class TelegramConfigAdmin(OwnedAdmin):
    formfield_overrides = PLAIN_NUMBERS
    form = TelegramConfigForm
    list_display = ("user", "enabled", "channel_id", "quiet_hours_enabled", "last_error")
    list_filter = ("enabled", "quiet_hours_enabled")
    search_fields = ("user__username", "channel_id")
    readonly_fields = ("last_error", "last_error_at", "updated_at")
    fieldsets = (
        ("Connection", {"fields": ("user", *TELEGRAM_SETTINGS["Connection"])}),
        ("Message types", {"fields": TELEGRAM_SETTINGS["Message types"]}),
        ("Advanced", {"fields": TELEGRAM_SETTINGS["Advanced"]}),
        ("Quiet hours (your time zone)", {"fields": TELEGRAM_SETTINGS["Quiet hours (your time zone)"]}),
        ("Delivery problems", {"fields": ("last_error", "last_error_at", "updated_at")}),
    )

    def has_add_permission(self, request):
        return False  # one per user, created with the user


@admin.register(Notification)
class NotificationAdmin(OwnedAdmin, ReadOnlyAdmin):
    list_display = ("created_at", "user", "event_type", "status", "is_edit", "telegram_message_id", "attempts", "error")
    list_filter = ("status", "event_type", "is_urgent", "is_edit", "topic")
    search_fields = ("user__username", "text", "error")
    date_hierarchy = "created_at"
