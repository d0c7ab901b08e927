"""Form support shared by the admin and the dashboard: write-only secrets (typed in, stored encrypted, never
shown again) and decimal fields that show plain numbers."""

from decimal import Decimal

from django import forms
from django.db import models

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
                field.widget = PlainNumberInput({key: value for key, value in field.widget.attrs.items() if key != "step"})


# For the admin's edit forms: ``formfield_overrides = PLAIN_NUMBERS``.
PLAIN_NUMBERS = {models.DecimalField: {"widget": PlainNumberInput}}
