"""The trading pages' forms: DCA configurations and the trade history's filters. (The exchange account,
risk and Telegram forms are in ``exchanges.forms``, ``risk.forms`` and ``notifications.forms``.)

None of them holds a trading rule. Each is a ModelForm, so validation is the model's own
``full_clean()`` (``clean()`` and the check constraints) — the same code the admin runs and the API's
serializers call — plus the API's own clash message for a second DCA configuration of the same market.
"""

import json
from decimal import Decimal

from django import forms

from exchanges.forms import ConstraintMessagesForm, OwnedForm
from exchanges.models import ExchangeAccount
from trading.models import DCA_CONFIG_SETTINGS, DCAConfiguration, ExitReason, Side
from trading.selectors import TradeFilters, closed_trade_symbols, dca_configuration_clash

JSON_TEXTAREA = {"rows": 7, "cols": 70, "spellcheck": "false", "class": "json"}


class LadderJSONField(forms.JSONField):
    """JSON with one ladder level (or one pyramid's entry) per line, so a ladder reads like a table."""

    def prepare_value(self, value):
        if value is None:
            return ""
        if isinstance(value, list) and value:
            return "[\n" + ",\n".join(f"  {json.dumps(item)}" for item in value) + "\n]"
        if isinstance(value, dict) and value:
            return (
                "{\n"
                + ",\n".join(f"  {json.dumps(str(key))}: {json.dumps(item)}" for key, item in value.items())
                + "\n}"
            )
        return super().prepare_value(value)


class DCAConfigurationForm(OwnedForm, ConstraintMessagesForm):
    """Checked like the admin and the API: ``DCAConfiguration.clean()`` (pair form, ladders whose weights
    sum to 100, pyramid overrides, tp_aggregate_percent for aggregate modes), the check constraints, and
    one configuration per exchange, pair and timeframe (the API's clash message)."""

    class Meta:
        model = DCAConfiguration
        fields = tuple(name for names in DCA_CONFIG_SETTINGS.values() for name in names)
        labels = {
            "pair": "Pair",
            "timeframe": "Timeframe (minutes)",
            "capital_usd": "Capital per pyramid (USD)",
            "tp_mode": "Take-profit mode",
            "tp_aggregate_percent": "Aggregate take-profit %",
            "pyramid_tp_percents": "Per-pyramid take-profit %",
            "stop_loss_percent": "Stop loss %",
            "max_slippage_percent": "Max slippage %",
            "levels": "DCA levels",
            "pyramid_levels": "Pyramid level overrides",
            "is_active": "Active",
            "use_signal_size": "Size from the alert's order_size",
            "tp_from_planned_price": "Take-profit from the planned price",
            "leverage": "Leverage",
            "margin_mode": "Margin mode",
            "allow_legs_beyond_liquidation": "Allow legs beyond the estimated liquidation price",
        }
        help_texts = {
            "levels": "JSON list, one object per leg; weight_percent must sum to 100. Example: "
            '[{"gap_percent": 0, "weight_percent": 50, "tp_percent": 2}, '
            '{"gap_percent": -1, "weight_percent": 50, "tp_percent": 2}]',
            "pyramid_levels": "Optional: another ladder for a pyramid index (1 = the second entry), e.g. "
            '{"1": [{"gap_percent": 0, "weight_percent": 100, "tp_percent": 1.5}]}',
            "pyramid_tp_percents": "For the per-pyramid aggregate mode: take-profit % per pyramid index "
            '(0 = the initial entry), e.g. {"0": 2.0, "1": 1.5}',
        }
        field_classes = {
            "levels": LadderJSONField,
            "pyramid_levels": LadderJSONField,
            "pyramid_tp_percents": LadderJSONField,
        }
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
        accounts = (
            ExchangeAccount.objects.filter(user=user).only("exchange_id", "label", "mode").order_by("exchange_id", "pk")
        )
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
            exchange_account_id=data.get("account"),
            symbol=data.get("symbol") or "",
            side=data.get("side") or "",
            exit_reason=data.get("exit_reason") or "",
            closed_from=data.get("closed_from"),
            closed_to=data.get("closed_to"),
        )


class GridPreviewForm(forms.Form):
    """The DCA configuration page's preview: the grid at an entry price (prefix ``preview``, so it travels
    inside the configuration's form without clashing with its fields)."""

    entry_price = forms.DecimalField(label="Entry price", min_value=Decimal("0.000000000001"), max_digits=30)
    side = forms.ChoiceField(label="Side", choices=Side.choices, initial=Side.LONG)
    pyramid = forms.IntegerField(label="Pyramid", min_value=0, initial=0, help_text="0 = the initial entry.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="preview", **kwargs)
