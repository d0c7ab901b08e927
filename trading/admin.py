from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin

from exchanges.forms import PLAIN_NUMBERS
from trading.models import (
    DCAConfiguration, EngineHeartbeat, Order, PositionGroup, Pyramid, QueuedSignal, Signal, User, WebhookRejectionTally,
)
from trading.services.users import user_rotate_webhook_secret


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records the engine writes: visible, filterable, never edited by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(User)
class EngineUserAdmin(UserAdmin):
    list_display = ("username", "email", "is_staff", "webhook_url")
    readonly_fields = ("webhook_url", "webhook_secret")
    fieldsets = UserAdmin.fieldsets + (
        ("Webhook", {"fields": ("webhook_url", "webhook_secret", "replay_window_seconds", "dedupe_window_seconds", "time_zone")}),
    )
    actions = ["rotate_webhook_secret"]

    @admin.action(description="Rotate webhook secret (alerts with the old secret stop working)")
    def rotate_webhook_secret(self, request, queryset):
        for user in queryset:
            user_rotate_webhook_secret(user=user)
        self.message_user(
            request, f"Rotated the webhook secret of {queryset.count()} user(s); update their TradingView alerts.",
            messages.WARNING,
        )


@admin.register(DCAConfiguration)
class DCAConfigurationAdmin(admin.ModelAdmin):
    formfield_overrides = PLAIN_NUMBERS
    list_display = ("__str__", "user", "tp_mode", "max_pyramids", "capital_usd", "entry_order_type", "is_active")
    list_filter = ("exchange", "tp_mode", "entry_order_type", "is_active")
    search_fields = ("pair", "exchange", "user__username")
    fieldsets = (
        (None, {"fields": ("user", "exchange", "pair", "timeframe", "is_active")}),
        ("DCA ladder", {"fields": ("levels", "pyramid_levels", "max_pyramids", "capital_usd", "use_signal_size", "entry_order_type")}),
        ("Take-profit", {"fields": ("tp_mode", "tp_aggregate_percent", "pyramid_tp_percents", "tp_from_planned_price")}),
        ("Protection", {"fields": ("stop_loss_percent", "max_slippage_percent", "slippage_action")}),
    )


class PyramidInline(admin.TabularInline):
    model = Pyramid
    fk_name = "group"
    extra = 0
    can_delete = False
    fields = ("index", "entry_price", "status", "capital_usd", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(PositionGroup)
class PositionGroupAdmin(ReadOnlyAdmin):
    list_display = (
        "symbol", "exchange", "timeframe", "side", "status", "pyramid_count", "filled_dca_legs", "total_dca_legs",
        "weighted_avg_entry", "unrealized_pnl_usd", "realized_pnl_usd", "user", "created_at",
    )
    list_filter = ("status", "side", "exchange", "tp_mode", "risk_blocked")
    search_fields = ("symbol", "user__username", "id")
    date_hierarchy = "created_at"
    inlines = [PyramidInline]


@admin.register(Pyramid)
class PyramidAdmin(ReadOnlyAdmin):
    list_display = ("group", "index", "entry_price", "status", "capital_usd", "created_at")
    list_filter = ("status",)
    search_fields = ("group__symbol", "group__id")


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = (
        "client_order_id", "symbol", "role", "leg_index", "side", "order_type", "price", "quantity", "status",
        "filled_quantity", "avg_fill_price", "created_at",
    )
    list_filter = ("status", "role", "side", "order_type", "exit_reason")
    search_fields = ("client_order_id", "exchange_order_id", "symbol", "group__id")
    date_hierarchy = "created_at"


@admin.register(Signal)
class SignalAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "user", "intent", "exchange", "tv_symbol", "timeframe", "side", "status", "http_status", "reason", "client_ip")
    list_filter = ("status", "intent", "http_status", "exchange")
    search_fields = ("tv_symbol", "symbol", "reason", "user__username", "id", "client_ip")
    date_hierarchy = "received_at"


@admin.register(QueuedSignal)
class QueuedSignalAdmin(ReadOnlyAdmin):
    list_display = ("symbol", "exchange", "timeframe", "side", "entry_price", "status", "replacement_count", "queued_at", "expires_at", "user")
    list_filter = ("status", "exchange", "side", "is_pyramid_continuation")
    search_fields = ("symbol", "user__username")


@admin.register(EngineHeartbeat)
class EngineHeartbeatAdmin(ReadOnlyAdmin):
    list_display = ("name", "seen_at", "detail")


@admin.register(WebhookRejectionTally)
class WebhookRejectionTallyAdmin(ReadOnlyAdmin):
    """Webhook requests naming no known user, counted per source network and hour (never stored one by one)."""

    list_display = ("hour", "network", "count", "last_http_status", "last_reason", "first_seen_at", "last_seen_at")
    list_filter = ("last_http_status",)
    search_fields = ("network",)
    date_hierarchy = "hour"
