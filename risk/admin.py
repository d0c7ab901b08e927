from django.contrib import admin

from core.admin import OwnedAdmin, ReadOnlyAdmin
from exchanges.forms import PLAIN_NUMBERS
from risk.models import RiskAction, RiskConfig


@admin.register(RiskConfig)
class RiskConfigAdmin(OwnedAdmin):
    formfield_overrides = PLAIN_NUMBERS
    list_display = (
        "user", "max_open_positions_global", "max_open_positions_per_symbol", "max_total_exposure_usd",
        "max_realized_loss_usd", "engine_force_stopped", "engine_paused_by_loss_limit",
    )
    list_filter = ("engine_force_stopped", "engine_paused_by_loss_limit")
    search_fields = ("user__username",)
    readonly_fields = ("paused_at", "last_evaluated_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("user",)}),
        ("Execution pool", {"fields": (
            "max_open_positions_global", "max_open_positions_per_symbol", "max_total_exposure_usd",
            "max_realized_loss_usd", "queue_ttl_minutes", "priority_rules",
        )}),
        ("Risk engine", {"fields": (
            "loss_threshold_percent", "required_pyramids_for_timer", "post_pyramids_wait_minutes",
            "max_winners_to_combine", "allow_partial_offset", "evaluate_on_fill", "evaluate_interval_seconds",
        )}),
        ("Engine state", {"fields": (
            "engine_force_stopped", "engine_paused_by_loss_limit", "paused_at", "last_evaluated_at", "updated_at",
        )}),
    )

    def has_add_permission(self, request):
        return False  # one per user, created with the user


@admin.register(RiskAction)
class RiskActionAdmin(OwnedAdmin, ReadOnlyAdmin):
    list_display = ("created_at", "user", "action_type", "group", "exit_reason", "quantity_closed", "realized_pnl_usd", "notes")
    list_filter = ("action_type", "exit_reason")
    search_fields = ("user__username", "notes", "group__symbol")
    date_hierarchy = "created_at"
