"""Admin form support for write-only secrets: typed in, stored encrypted, never shown again."""

from django import forms


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
