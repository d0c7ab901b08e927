"""Admin is for operators; traders use the dashboard. Only staff reach it (Django's default). A
superuser sees every trader's records; any other staff member sees only their own (``OwnedAdmin``),
and no one moves a record to another owner once it exists."""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from core.admin import OwnedAdmin, ReadOnlyAdmin
from exchanges.forms import PLAIN_NUMBERS
from trading.models import (
    DCA_CONFIG_SETTINGS,
    POOL_LIMIT_FIELDS,
    RISK_ENGINE_FIELDS,
    DCAConfiguration,
    EngineHeartbeat,
    FundingPayment,
    JournalEntry,
    Order,
    PositionGroup,
    Pyramid,
    QueuedSignal,
    RiskConfig,
    Signal,
    User,
    WebhookRejectionTally,
)
from trading.services.users import user_rotate_webhook_secret

# Fields that would let a staff member raise their own rights: a superuser's to give.
PRIVILEGE_FIELDS = ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")


@admin.register(User)
class EngineUserAdmin(OwnedAdmin, UserAdmin):
    list_display = ("username", "email", "is_staff", "webhook_url")
    readonly_fields = ("webhook_url", "webhook_secret")
    # Django's UserAdmin sets its fieldsets to a tuple; django-stubs types the attribute as ModelAdmin's
    # (list, tuple or None).
    fieldsets = UserAdmin.fieldsets + (  # type: ignore[operator]
        (
            "Webhook",
            {
                "fields": (
                    "webhook_url",
                    "webhook_secret",
                    "replay_window_seconds",
                    "dedupe_window_seconds",
                    "time_zone",
                )
            },
        ),
    )
    actions = ["rotate_webhook_secret"]
    owner = "pk"  # a user owns themselves: a non-superuser staff member sees only their own user

    def has_add_permission(self, request):
        return request.user.is_superuser  # users another staff member could not see afterwards: a superuser's job

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        return readonly if request.user.is_superuser else readonly + PRIVILEGE_FIELDS

    @admin.action(description="Rotate webhook secret (alerts with the old secret stop working)")
    def rotate_webhook_secret(self, request, queryset):
        for user in queryset:
            user_rotate_webhook_secret(user=user)
        self.message_user(
            request,
            f"Rotated the webhook secret of {queryset.count()} user(s); update their TradingView alerts.",
            messages.WARNING,
        )


admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class OwnedTokenAdmin(OwnedAdmin, TokenAdmin):
    """DRF's token admin (tokens listed by user), scoped like every trader's record: a token is a key."""


@admin.register(DCAConfiguration)
class DCAConfigurationAdmin(OwnedAdmin):
    formfield_overrides = PLAIN_NUMBERS
    list_display = ("__str__", "user", "tp_mode", "max_pyramids", "capital_usd", "entry_order_type", "is_active")
    list_filter = ("exchange", "tp_mode", "entry_order_type", "is_active")
    search_fields = ("pair", "exchange", "user__username")
    fieldsets = (
        (None, {"fields": ("user", *DCA_CONFIG_SETTINGS["Market"])}),
        ("DCA ladder", {"fields": DCA_CONFIG_SETTINGS["DCA ladder"]}),
        ("Take-profit", {"fields": DCA_CONFIG_SETTINGS["Take-profit"]}),
        ("Protection", {"fields": DCA_CONFIG_SETTINGS["Protection"]}),
        ("Leverage (swap accounts)", {"fields": DCA_CONFIG_SETTINGS["Leverage (swap accounts)"]}),
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
class PositionGroupAdmin(OwnedAdmin, ReadOnlyAdmin):
    list_display = (
        "symbol",
        "exchange",
        "timeframe",
        "side",
        "status",
        "pyramid_count",
        "filled_dca_legs",
        "total_dca_legs",
        "weighted_avg_entry",
        "unrealized_pnl_usd",
        "realized_pnl_usd",
        "funding_pnl_usd",
        "user",
        "created_at",
    )
    list_filter = ("status", "side", "exchange", "tp_mode", "risk_blocked")
    search_fields = ("symbol", "user__username", "id")
    date_hierarchy = "created_at"
    inlines = [PyramidInline]


@admin.register(Pyramid)
class PyramidAdmin(OwnedAdmin, ReadOnlyAdmin):
    owner = "group__user"
    list_display = ("group", "index", "entry_price", "status", "capital_usd", "created_at")
    list_filter = ("status",)
    search_fields = ("group__symbol", "group__id")


@admin.register(Order)
class OrderAdmin(OwnedAdmin, ReadOnlyAdmin):
    owner = "group__user"
    list_display = (
        "client_order_id",
        "symbol",
        "role",
        "leg_index",
        "side",
        "order_type",
        "price",
        "quantity",
        "status",
        "filled_quantity",
        "avg_fill_price",
        "created_at",
    )
    list_filter = ("status", "role", "side", "order_type", "exit_reason")
    search_fields = ("client_order_id", "exchange_order_id", "symbol", "group__id")
    date_hierarchy = "created_at"


@admin.register(FundingPayment)
class FundingPaymentAdmin(OwnedAdmin, ReadOnlyAdmin):
    owner = "group__user"
    list_display = ("paid_at", "symbol", "amount", "currency", "payment_amount", "part", "exchange_payment_id", "group")
    list_filter = ("currency",)
    search_fields = ("symbol", "exchange_payment_id", "group__id")
    date_hierarchy = "paid_at"


@admin.register(Signal)
class SignalAdmin(OwnedAdmin, ReadOnlyAdmin):
    list_display = (
        "received_at",
        "user",
        "intent",
        "exchange",
        "tv_symbol",
        "timeframe",
        "side",
        "status",
        "http_status",
        "reason",
        "client_ip",
    )
    list_filter = ("status", "intent", "http_status", "exchange")
    search_fields = ("tv_symbol", "symbol", "reason", "user__username", "id", "client_ip")
    date_hierarchy = "received_at"


@admin.register(QueuedSignal)
class QueuedSignalAdmin(OwnedAdmin, ReadOnlyAdmin):
    list_display = (
        "symbol",
        "exchange",
        "timeframe",
        "side",
        "entry_price",
        "status",
        "replacement_count",
        "queued_at",
        "expires_at",
        "user",
    )
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


@admin.register(RiskConfig)
class RiskConfigAdmin(OwnedAdmin):
    formfield_overrides = PLAIN_NUMBERS
    list_display = (
        "user",
        "max_open_positions_global",
        "max_open_positions_per_symbol",
        "max_total_exposure_usd",
        "max_realized_loss_usd",
        "engine_force_stopped",
        "engine_paused_by_loss_limit",
    )
    list_filter = ("engine_force_stopped", "engine_paused_by_loss_limit")
    search_fields = ("user__username",)
    readonly_fields = ("paused_at", "last_evaluated_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("user",)}),
        ("Execution pool", {"fields": (*POOL_LIMIT_FIELDS, "priority_rules")}),
        ("Risk engine", {"fields": RISK_ENGINE_FIELDS}),
        (
            "Engine state",
            {
                "fields": (
                    "engine_force_stopped",
                    "engine_paused_by_loss_limit",
                    "paused_at",
                    "last_evaluated_at",
                    "updated_at",
                )
            },
        ),
    )

    def has_add_permission(self, request):
        return False  # one per user, created with the user


@admin.register(JournalEntry)
class JournalEntryAdmin(OwnedAdmin, ReadOnlyAdmin):
    list_display = (
        "created_at",
        "user",
        "kind",
        "group",
        "exit_reason",
        "quantity_closed",
        "realized_pnl_usd",
        "summary",
    )
    list_filter = ("kind", "exit_reason")
    search_fields = ("user__username", "group__symbol", "details")
    date_hierarchy = "created_at"
