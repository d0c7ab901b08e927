"""The dashboard's forms: the settings (DCA configurations, exchange accounts, the risk config, Telegram)
and the trade history's filters.

None of them holds a trading rule. Each is a ModelForm, so validation is the model's own
``full_clean()`` (``clean()`` and the check constraints) — the same code the admin runs and the API's
serializers call — plus the API's own clash message for a second DCA configuration of the same market.
The risk config is saved through ``risk_config_update``, the service the API uses. Secrets (exchange
keys, the bot token) use the admin's write-only form: rendered empty, kept when left blank.
"""

import json
import operator
from decimal import Decimal

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS
from django.db.models import CheckConstraint, Q

from exchanges.forms import PlainNumbersForm, WriteOnlySecretsForm
from exchanges.models import ExchangeAccount
from notifications.models import TelegramConfig
from trading.api.serializers import dca_configuration_clash
from trading.models import PRIORITY_RULES, DCAConfiguration, ExitReason, RiskConfig, Side
from trading.selectors import TradeFilters, closed_trade_symbols

JSON_TEXTAREA = {"rows": 7, "cols": 70, "spellcheck": "false", "class": "json"}


class LadderJSONField(forms.JSONField):
    """JSON with one ladder level (or one pyramid's entry) per line, so a ladder reads like a table."""

    def prepare_value(self, value):
        if value is None:
            return ""
        if isinstance(value, list) and value:
            return "[\n" + ",\n".join(f"  {json.dumps(item)}" for item in value) + "\n]"
        if isinstance(value, dict) and value:
            return "{\n" + ",\n".join(f"  {json.dumps(str(key))}: {json.dumps(item)}" for key, item in value.items()) + "\n}"
        return super().prepare_value(value)


# Check constraints compare a field with a constant: (words, test) per lookup, to say which field broke one.
COMPARISONS = {
    "gt": ("greater than", operator.gt), "gte": ("at least", operator.ge),
    "lt": ("less than", operator.lt), "lte": ("at most", operator.le),
}


def _constraint_bounds(constraint: CheckConstraint) -> dict[str, list[tuple[str, object]]] | None:
    """{field: [(lookup, constant), …]} of a check constraint made of such comparisons (None otherwise)."""
    conditions, pending = [], [constraint.condition]
    while pending:
        node = pending.pop()
        if node.negated:
            return None
        for child in node.children:
            (pending if isinstance(child, Q) else conditions).append(child)
    bounds: dict[str, list[tuple[str, object]]] = {}
    for lookup, value in conditions:
        field, _, comparison = lookup.partition("__")
        if comparison == "isnull":  # "empty, or …": an empty value passes
            continue
        if comparison not in COMPARISONS or not isinstance(value, int | float | Decimal):
            return None
        bounds.setdefault(field, []).append((comparison, value))
    return bounds or None


class ConstraintMessagesForm(PlainNumbersForm):
    """A ModelForm (with plain numbers in its decimal fields) that shows a failed check constraint of the model next to the field that broke it, in
    words ("Must be greater than 0."), instead of Django's 'Constraint “dca_capital_positive” is violated.'
    above the form. The constraints are the model's, checked by its full_clean(); only the message moves."""

    def _post_clean(self):
        super()._post_clean()
        general = self._errors.get(NON_FIELD_ERRORS)
        if not general:
            return
        for constraint in self._meta.model._meta.constraints:
            bounds = _constraint_bounds(constraint) if isinstance(constraint, CheckConstraint) else None
            message = constraint.get_violation_error_message()
            if bounds is None or message not in general:
                continue
            broken = {
                field: f"Must be {' and '.join(f'{COMPARISONS[c][0]} {limit}' for c, limit in rules)}."
                for field, rules in bounds.items()
                if field in self.fields and getattr(self.instance, field) is not None
                and not all(COMPARISONS[c][1](getattr(self.instance, field), limit) for c, limit in rules)
            }
            if not broken:
                continue
            remaining = [error for error in general.as_data() if message not in error.messages]
            self._errors[NON_FIELD_ERRORS] = general = self.error_class(remaining, error_class="nonfield",
                                                                         renderer=self.renderer)
            for field, text in broken.items():
                if field not in self._errors:  # a field already told what is wrong keeps just that message
                    self.add_error(field, text)
        if not general:
            del self._errors[NON_FIELD_ERRORS]


class OwnedForm:
    """A form for one of the trader's own rows: the view sets ``instance.user`` before validation."""

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.user = user


class DCAConfigurationForm(OwnedForm, ConstraintMessagesForm):
    """Checked like the admin and the API: ``DCAConfiguration.clean()`` (pair form, ladders whose weights
    sum to 100, pyramid overrides, tp_aggregate_percent for aggregate modes), the check constraints, and
    one configuration per exchange, pair and timeframe (the API's clash message)."""

    class Meta:
        model = DCAConfiguration
        fields = (
            "exchange", "pair", "timeframe", "is_active", "levels", "pyramid_levels", "max_pyramids", "capital_usd",
            "use_signal_size", "entry_order_type", "tp_mode", "tp_aggregate_percent", "pyramid_tp_percents",
            "tp_from_planned_price", "stop_loss_percent", "max_slippage_percent", "slippage_action",
        )
        labels = {
            "pair": "Pair", "timeframe": "Timeframe (minutes)", "capital_usd": "Capital per pyramid (USD)",
            "tp_mode": "Take-profit mode", "tp_aggregate_percent": "Aggregate take-profit %",
            "pyramid_tp_percents": "Per-pyramid take-profit %", "stop_loss_percent": "Stop loss %",
            "max_slippage_percent": "Max slippage %", "levels": "DCA levels", "pyramid_levels": "Pyramid level overrides",
            "is_active": "Active", "use_signal_size": "Size from the alert's order_size",
            "tp_from_planned_price": "Take-profit from the planned price",
        }
        help_texts = {
            "levels": 'JSON list, one object per leg; weight_percent must sum to 100. Example: '
                      '[{"gap_percent": 0, "weight_percent": 50, "tp_percent": 2}, '
                      '{"gap_percent": -1, "weight_percent": 50, "tp_percent": 2}]',
            "pyramid_levels": 'Optional: another ladder for a pyramid index (1 = the second entry), e.g. '
                              '{"1": [{"gap_percent": 0, "weight_percent": 100, "tp_percent": 1.5}]}',
            "pyramid_tp_percents": 'For the per-pyramid aggregate mode: take-profit % per pyramid index '
                                   '(0 = the initial entry), e.g. {"0": 2.0, "1": 1.5}',
        }
        field_classes = {"levels": LadderJSONField, "pyramid_levels": LadderJSONField,
                         "pyramid_tp_percents": LadderJSONField}
        widgets = {
            "levels": forms.Textarea(attrs=JSON_TEXTAREA),
            "pyramid_levels": forms.Textarea(attrs={**JSON_TEXTAREA, "rows": 3}),
            "pyramid_tp_percents": forms.Textarea(attrs={**JSON_TEXTAREA, "rows": 2}),
        }

    def _post_clean(self):
        super()._post_clean()  # the model's full_clean(): clean() normalised exchange and pair first
        if not self._errors:
            clash = dca_configuration_clash(self.instance)
            if clash is not None:
                self.add_error(None, clash)


class ExchangeAccountForm(OwnedForm, WriteOnlySecretsForm, ConstraintMessagesForm):
    """An exchange account with write-only keys, checked by ``ExchangeAccount.clean()`` (a live or testnet
    account needs a key and secret) and its constraints, one account per exchange included."""

    secret_fields = ("api_key", "api_secret", "api_password")

    class Meta:
        model = ExchangeAccount
        fields = (
            "exchange_id", "label", "mode", "is_enabled", "api_key", "api_secret", "api_password", "price_feed",
            "maker_fee_percent", "taker_fee_percent", "partial_fill_ratio", "market_slippage_percent",
            "starting_balance", "synthetic_seed",
        )
        labels = {"exchange_id": "Exchange", "api_password": "API passphrase", "api_key": "API key",
                  "api_secret": "API secret", "is_enabled": "Enabled",
                  "price_feed": "Paper: price feed", "maker_fee_percent": "Paper: maker fee %",
                  "taker_fee_percent": "Paper: taker fee %", "partial_fill_ratio": "Paper: partial fill ratio",
                  "market_slippage_percent": "Paper: market order slippage %",
                  "starting_balance": "Paper: starting balance", "synthetic_seed": "Paper: synthetic price seed"}
        help_texts = {"exchange_id": "The exchange's id in lower case (binance, bybit, …); alerts name it in tv.exchange."}
        error_messages = {
            NON_FIELD_ERRORS: {"unique_together": "You already have an account on this exchange: edit that one."},
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # Its positions and their orders live on this exchange: another exchange is another account.
            self.fields["exchange_id"].disabled = True
            self.fields["exchange_id"].help_text = "Fixed once the account exists: add another account for another exchange."

    def _get_validation_exclusions(self):
        # The user is set by the view, not posted: keep it in the checks so the one-account-per-exchange
        # constraint is validated (with the message above) instead of failing on save.
        exclusions = super()._get_validation_exclusions()
        exclusions.discard("user")
        return exclusions


class RiskConfigForm(ConstraintMessagesForm):
    """The pool limits, queue and risk engine settings. The view saves through ``risk_config_update``
    (``RiskConfig.clean()``: negative loss threshold, per-symbol limit within the global one, …)."""

    class Meta:
        model = RiskConfig
        fields = (
            "max_open_positions_global", "max_open_positions_per_symbol", "max_total_exposure_usd",
            "max_realized_loss_usd", "queue_ttl_minutes", "loss_threshold_percent", "required_pyramids_for_timer",
            "post_pyramids_wait_minutes", "max_winners_to_combine", "allow_partial_offset", "evaluate_on_fill",
            "evaluate_interval_seconds",
        )
        labels = {
            "max_open_positions_global": "Max open positions",
            "max_open_positions_per_symbol": "Max open positions per symbol",
            "max_total_exposure_usd": "Max total exposure (USD)",
            "max_realized_loss_usd": "Daily realised loss limit (USD)",
            "queue_ttl_minutes": "Queue expiry (minutes)", "loss_threshold_percent": "Loss threshold %",
            "required_pyramids_for_timer": "Pyramids filled before the timer starts",
            "post_pyramids_wait_minutes": "Timer (minutes)", "max_winners_to_combine": "Winners combined at most",
            "evaluate_interval_seconds": "Evaluate every (seconds)",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        rules = self.instance.priority_rules or {}
        for rule in PRIORITY_RULES:
            self.fields[f"rule_{rule}"] = forms.BooleanField(
                required=False, initial=rules.get(rule, True), label=PRIORITY_RULE_LABELS[rule])

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


class TelegramConfigForm(WriteOnlySecretsForm, ConstraintMessagesForm):
    """Where and what to send on Telegram, checked by ``TelegramConfig.clean()``; the bot token is write-only."""

    secret_fields = ("bot_token",)

    class Meta:
        model = TelegramConfig
        fields = (
            "enabled", "bot_token", "channel_id", "channel_name", "engine_signature",
            "send_entry_signals", "send_exit_signals", "send_status_updates", "send_dca_fill_updates",
            "send_pyramid_updates", "send_tp_hit_updates", "send_failure_alerts", "send_risk_alerts",
            "update_existing_message", "update_on_pyramid", "show_unrealized_pnl", "show_invested_amount",
            "show_duration", "alert_loss_threshold_percent", "alert_profit_threshold_percent",
            "quiet_hours_enabled", "quiet_hours_start", "quiet_hours_end", "quiet_hours_urgent_only",
        )
        widgets = {
            "quiet_hours_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_hours_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "engine_signature": forms.Textarea(attrs={"rows": 2, "cols": 60}),
        }
        labels = {"alert_loss_threshold_percent": "Alert when a position's loss reaches (%)",
                  "alert_profit_threshold_percent": "Alert when a position's profit reaches (%)"}


ANY = [("", "Any")]


class TradeFilterForm(forms.Form):
    """The trade history's filters (a GET form): the same ``TradeFilters`` serve the page, its CSV and the
    API. The account and symbol choices are the trader's own, so another trader's id is not a valid choice."""

    account = forms.TypedChoiceField(label="Account", required=False, coerce=int, empty_value=None)
    symbol = forms.ChoiceField(label="Symbol", required=False)
    side = forms.ChoiceField(label="Side", required=False, choices=ANY + Side.choices)
    exit_reason = forms.ChoiceField(label="Exit reason", required=False, choices=ANY + ExitReason.choices)
    closed_from = forms.DateField(label="Closed from", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    closed_to = forms.DateField(label="Closed to", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        accounts = ExchangeAccount.objects.filter(user=user).only("exchange_id", "label", "mode").order_by("exchange_id", "pk")
        self.fields["account"].choices = ANY + [(account.pk, account.label or str(account)) for account in accounts]
        self.fields["symbol"].choices = ANY + [(symbol, symbol) for symbol in closed_trade_symbols(user)]

    def clean(self):
        data = super().clean()
        start, end = data.get("closed_from"), data.get("closed_to")
        if start and end and end < start:
            self.add_error("closed_to", "Must be on or after the first day.")
        return data

    def filters(self) -> TradeFilters:
        """The filters of a valid form."""
        data = self.cleaned_data
        return TradeFilters(
            exchange_account_id=data.get("account"), symbol=data.get("symbol") or "", side=data.get("side") or "",
            exit_reason=data.get("exit_reason") or "", closed_from=data.get("closed_from"),
            closed_to=data.get("closed_to"),
        )
