"""Form support shared by the admin and the dashboard: write-only secrets (typed in, stored encrypted, never
shown again), decimal fields that show plain numbers, a failed check constraint shown next to its field,
and the dashboard's form of an exchange account.

Every dashboard form is a ModelForm, so validation is the model's own ``full_clean()`` (``clean()`` and
the check constraints), the same code the admin runs and the API's serializers call.
"""

import operator
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS
from django.db import models
from django.db.models import CheckConstraint, Q

from exchanges.models import ACCOUNT_FIELDS, KEY_FIELDS, LABEL_TAKEN, PAPER_FIELDS, ExchangeAccount
from exchanges.numbers import plain


class WriteOnlySecretsForm(forms.ModelForm):
    """A ModelForm whose ``secret_fields`` render empty and keep the stored value when left blank."""

    secret_fields: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.secret_fields:
            stored = bool(self.instance.pk and getattr(self.instance, name))
            self.fields[name] = forms.CharField(
                required=False,
                strip=True,
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
                help_text="Stored (encrypted). Leave empty to keep it." if stored else "Not set.",
                label=self.fields[name].label,
            )
            self.initial[name] = ""

    def clean(self):
        cleaned = super().clean()
        for name in self.secret_fields:
            if not cleaned.get(name) and self.instance.pk:
                cleaned[name] = getattr(type(self.instance).objects.get(pk=self.instance.pk), name)
                setattr(self.instance, name, cleaned[name])
        return cleaned


class PlainNumberInput(forms.NumberInput):
    """A number field showing its number as a trader types it: 12, 0.1, 10 — not a DecimalField's stored
    places (12.000000000000) nor an exponent (1E+1). ``step="any"``: Django's default step for 12
    decimal places (1e-12) is no step a trader means."""

    def __init__(self, attrs=None):
        super().__init__({"step": "any", **(attrs or {})})

    def format_value(self, value):
        if isinstance(value, Decimal):
            return plain(value)
        return super().format_value(value)


class PlainNumbersForm(forms.ModelForm):
    """A ModelForm whose decimal fields use ``PlainNumberInput``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.DecimalField) and not isinstance(field.widget, PlainNumberInput):
                field.widget = PlainNumberInput(
                    {key: value for key, value in field.widget.attrs.items() if key != "step"}
                )


# For the admin's edit forms: ``formfield_overrides = PLAIN_NUMBERS``.
PLAIN_NUMBERS: Mapping[type[models.Field], Mapping[str, Any]] = {models.DecimalField: {"widget": PlainNumberInput}}


# Check constraints compare a field with a constant: (words, test) per lookup, to say which field broke one.
COMPARISONS = {
    "gt": ("greater than", operator.gt),
    "gte": ("at least", operator.ge),
    "lt": ("less than", operator.lt),
    "lte": ("at most", operator.le),
}


def _constraint_bounds(constraint: CheckConstraint) -> dict[str, list[tuple[str, object]]] | None:
    """{field: [(lookup, constant), …]} of a check constraint made of such comparisons (None otherwise)."""
    conditions: list[tuple[str, object]] = []
    pending: list[object] = [constraint.condition]
    while pending:
        node = pending.pop()
        if not isinstance(node, Q) or node.negated:  # an expression, not lookups: no such comparisons
            return None
        for child in node.children:
            if isinstance(child, Q):
                pending.append(child)
            elif isinstance(child, tuple):  # (lookup, constant)
                conditions.append(child)
            else:  # an expression inside the Q
                return None
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
    """A ModelForm (with plain numbers in its decimal fields) that shows a failed check constraint of the
    model next to the field that broke it, in
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
                if field in self.fields
                and getattr(self.instance, field) is not None
                and not all(COMPARISONS[c][1](getattr(self.instance, field), limit) for c, limit in rules)
            }
            if not broken:
                continue
            remaining = [error for error in general.as_data() if message not in error.messages]
            self._errors[NON_FIELD_ERRORS] = general = self.error_class(
                remaining, error_class="nonfield", renderer=self.renderer
            )
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


class ExchangeAccountForm(OwnedForm, WriteOnlySecretsForm, ConstraintMessagesForm):
    """An exchange account with write-only keys, checked by ``ExchangeAccount.clean()`` (a live or testnet
    account needs a key and secret) and its constraints: one account per exchange and market type, and a
    label names one account."""

    secret_fields = KEY_FIELDS

    class Meta:
        model = ExchangeAccount
        fields = (*ACCOUNT_FIELDS, *KEY_FIELDS, *PAPER_FIELDS)
        labels = {
            "exchange_id": "Exchange",
            "market_type": "Market type",
            "api_password": "API passphrase",
            "api_key": "API key",
            "api_secret": "API secret",
            "is_enabled": "Enabled",
            "price_feed": "Paper: price feed",
            "maker_fee_percent": "Paper: maker fee %",
            "taker_fee_percent": "Paper: taker fee %",
            "partial_fill_ratio": "Paper: partial fill ratio",
            "market_slippage_percent": "Paper: market order slippage %",
            "starting_balance": "Paper: starting balance",
            "synthetic_seed": "Paper: synthetic price seed",
        }
        help_texts = {
            "exchange_id": "The exchange's id in lower case (binance, bybit, …); alerts name it in tv.exchange."
        }
        error_messages = {
            NON_FIELD_ERRORS: {
                "unique_together": "You already have an account on this exchange for this market type: edit that one."
            },
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # Its positions and their orders live on this exchange: another exchange is another account.
            self.fields["exchange_id"].disabled = True
            self.fields[
                "exchange_id"
            ].help_text = "Fixed once the account exists: add another account for another exchange."
            # Its positions are spot holdings or perpetual positions: the other market type is another account.
            self.fields["market_type"].disabled = True
            self.fields[
                "market_type"
            ].help_text = (
                "Fixed once the account exists: add another account on this exchange for the other market type."
            )

    def _post_clean(self):
        super()._post_clean()
        # The label's uniqueness (a conditional constraint) is reported above the form: show it at the label.
        general = self._errors.get(NON_FIELD_ERRORS)
        if general and LABEL_TAKEN in general:
            remaining = [error for error in general.as_data() if LABEL_TAKEN not in error.messages]
            if remaining:
                self._errors[NON_FIELD_ERRORS] = self.error_class(
                    remaining, error_class="nonfield", renderer=self.renderer
                )
            else:
                del self._errors[NON_FIELD_ERRORS]
            self.add_error("label", LABEL_TAKEN)

    def _get_validation_exclusions(self):
        # The user is set by the view, not posted: keep it in the checks so the one-account-per-exchange
        # constraint is validated (with the message above) instead of failing on save.
        exclusions = super()._get_validation_exclusions()
        exclusions.discard("user")
        return exclusions
