"""Risk records: the per-user pool and risk configuration, and the actions the engine took."""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from core.fields import MONEY
from trading.models import ExitReason

PRIORITY_RULES = ("same_pair_timeframe", "deepest_loss_percent", "highest_replacement", "fifo_fallback")


def default_priority_rules() -> dict[str, bool]:
    return {rule: True for rule in PRIORITY_RULES}


class RiskConfig(models.Model):
    """One trader's execution pool limits and risk engine settings (one row per user).

    Its row is also the lock that serialises the routing of that user's signals.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="risk_config")
    # Execution pool
    max_open_positions_global = models.PositiveIntegerField(default=10)
    max_open_positions_per_symbol = models.PositiveIntegerField(default=1)
    max_total_exposure_usd = models.DecimalField(**MONEY, default=10000)
    max_realized_loss_usd = models.DecimalField(
        **MONEY, default=500, help_text="Daily realised loss that pauses new entries (circuit breaker)."
    )
    queue_ttl_minutes = models.PositiveIntegerField(default=60, help_text="Queued signals expire after this.")
    priority_rules = models.JSONField(
        default=default_priority_rules, help_text=f"Switch each promotion rule on or off: {', '.join(PRIORITY_RULES)}."
    )
    # Risk engine
    loss_threshold_percent = models.DecimalField(**MONEY, default=-1.5)
    required_pyramids_for_timer = models.PositiveSmallIntegerField(default=3)
    post_pyramids_wait_minutes = models.PositiveIntegerField(default=15)
    max_winners_to_combine = models.PositiveSmallIntegerField(default=3)
    allow_partial_offset = models.BooleanField(default=False)
    evaluate_on_fill = models.BooleanField(default=False)
    evaluate_interval_seconds = models.PositiveIntegerField(default=60)
    # Engine state
    engine_paused_by_loss_limit = models.BooleanField(default=False)
    engine_force_stopped = models.BooleanField(default=False)
    paused_at = models.DateTimeField(null=True, blank=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "risk configuration"
        constraints = [
            models.CheckConstraint(condition=Q(loss_threshold_percent__lt=0), name="risk_loss_threshold_negative"),
            models.CheckConstraint(condition=Q(max_total_exposure_usd__gt=0), name="risk_exposure_positive"),
            models.CheckConstraint(condition=Q(max_realized_loss_usd__gt=0), name="risk_max_loss_positive"),
            models.CheckConstraint(condition=Q(max_winners_to_combine__gte=1), name="risk_winners_at_least_one"),
            models.CheckConstraint(condition=Q(evaluate_interval_seconds__gte=5), name="risk_interval_at_least_5s"),
            models.CheckConstraint(condition=Q(max_open_positions_global__gte=1), name="risk_pool_at_least_one"),
        ]

    def __str__(self) -> str:
        return f"risk config of {self.user}"

    def clean(self) -> None:
        errors = {}
        rules = self.priority_rules
        if not isinstance(rules, dict) or set(rules) - set(PRIORITY_RULES) or not all(
            isinstance(value, bool) for value in rules.values()
        ):
            errors["priority_rules"] = [
                "Give an object of true/false switches with these names only: " + ", ".join(PRIORITY_RULES)
            ]
        else:
            self.priority_rules = {rule: rules.get(rule, True) for rule in PRIORITY_RULES}
        if self.loss_threshold_percent is not None and self.loss_threshold_percent >= 0:
            errors["loss_threshold_percent"] = ["Use a negative percent, e.g. -1.5 for a 1.5 % loss."]
        if self.max_open_positions_per_symbol and self.max_open_positions_per_symbol > self.max_open_positions_global:
            errors["max_open_positions_per_symbol"] = ["Cannot exceed max_open_positions_global."]
        if self.evaluate_interval_seconds is not None and self.evaluate_interval_seconds < 5:
            errors["evaluate_interval_seconds"] = ["Evaluate at most every 5 seconds."]
        if errors:
            raise ValidationError(errors)


class RiskAction(models.Model):
    """A record of something the risk engine or a trader did to positions, with the numbers."""

    class ActionType(models.TextChoices):
        OFFSET_LOSS = "offset_loss", "Loss offset (loser closed, winners reduced)"
        CLOSE = "close", "Position closed"
        MANUAL_BLOCK = "manual_block", "Blocked from risk"
        MANUAL_UNBLOCK = "manual_unblock", "Unblocked"
        MANUAL_SKIP = "manual_skip", "Skip next evaluation"
        TIMER_STARTED = "timer_started", "Risk timer started"
        TIMER_EXPIRED = "timer_expired", "Risk timer expired"
        TIMER_RESET = "timer_reset", "Risk timer reset"
        ENGINE_PAUSED = "engine_paused", "Engine paused by loss limit"
        FORCE_STOP = "force_stop", "Engine force-stopped"
        FORCE_START = "force_start", "Engine force-started"
        ORPHAN_CANCELLED = "orphan_cancelled", "Unknown exchange order cancelled (reconciliation)"

    class WinnersState(models.TextChoices):
        WAITING = "waiting", "Waiting for the loser's close"
        DISPATCHED = "dispatched", "Winners reduced after the loser closed"
        CANCELLED = "cancelled", "Loser's close failed; winners untouched"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="risk_actions")
    action_type = models.CharField(max_length=20, choices=ActionType.choices)
    winners_state = models.CharField(
        max_length=12, choices=WinnersState.choices, blank=True,
        help_text="Loss offsets: the winners are reduced only once the loser's close has filled.",
    )
    group = models.ForeignKey(
        "trading.PositionGroup", null=True, blank=True, on_delete=models.SET_NULL, related_name="risk_actions"
    )
    loser_group = models.ForeignKey(
        "trading.PositionGroup", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    loser_pnl_usd = models.DecimalField(**MONEY, null=True, blank=True)
    required_usd = models.DecimalField(**MONEY, null=True, blank=True)
    winner_details = models.JSONField(
        default=list, blank=True, help_text="[{group_id, symbol, quantity_closed, pnl_usd, price}, …]"
    )
    exit_reason = models.CharField(max_length=20, choices=ExitReason.choices, blank=True)
    entry_price = models.DecimalField(**MONEY, null=True, blank=True)
    exit_price = models.DecimalField(**MONEY, null=True, blank=True)
    quantity_closed = models.DecimalField(**MONEY, null=True, blank=True)
    realized_pnl_usd = models.DecimalField(**MONEY, null=True, blank=True)
    pnl_percent = models.DecimalField(**MONEY, null=True, blank=True)
    duration_seconds = models.PositiveBigIntegerField(null=True, blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "action_type", "created_at"], name="riskaction_user_type_time")]

    def __str__(self) -> str:
        return f"{self.get_action_type_display()} at {self.created_at:%Y-%m-%d %H:%M}"
