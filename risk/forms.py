"""The dashboard's form of the trader's pool limits, queue and risk engine settings."""

from django import forms

from exchanges.forms import ConstraintMessagesForm
from trading.models import POOL_LIMIT_FIELDS, PRIORITY_RULES, RISK_ENGINE_FIELDS, RiskConfig


class RiskConfigForm(ConstraintMessagesForm):
    """The pool limits, queue and risk engine settings. The view saves through ``risk_config_update``
    (``RiskConfig.clean()``: negative loss threshold, per-symbol limit within the global one, …)."""

    class Meta:
        model = RiskConfig
        fields = (*POOL_LIMIT_FIELDS, *RISK_ENGINE_FIELDS)
        labels = {
            "max_open_positions_global": "Max open positions",
            "max_open_positions_per_symbol": "Max open positions per symbol",
            "max_total_exposure_usd": "Max total exposure (USD)",
            "max_realized_loss_usd": "Daily realised loss limit (USD)",
            "queue_ttl_minutes": "Queue expiry (minutes)",
            "loss_threshold_percent": "Loss threshold %",
            "required_pyramids_for_timer": "Pyramids filled before the timer starts",
            "post_pyramids_wait_minutes": "Timer (minutes)",
            "max_winners_to_combine": "Winners combined at most",
            "evaluate_interval_seconds": "Evaluate every (seconds)",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        rules = self.instance.priority_rules or {}
        for rule in PRIORITY_RULES:
            self.fields[f"rule_{rule}"] = forms.BooleanField(
                required=False, initial=rules.get(rule, True), label=PRIORITY_RULE_LABELS[rule]
            )

    def changes(self) -> dict:
        """The validated values as ``risk_config_update`` takes them."""
        changes = {name: self.cleaned_data[name] for name in self.Meta.fields}
        changes["priority_rules"] = {rule: self.cleaned_data[f"rule_{rule}"] for rule in PRIORITY_RULES}
        return changes


PRIORITY_RULE_LABELS = {
    "same_pair_timeframe": "Promote pyramid continuations of an open position first",
    "deepest_loss_percent": "Then the deepest loss versus the queued entry price",
    "highest_replacement": "Then the most replaced signal",
    "fifo_fallback": "Then the oldest",
}
