"""Template filters of the dashboard."""

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def price(value, empty: str = "—") -> str:
    """A price or quantity as stored, without trailing zeros (99.5, not 99.50000000); ``empty`` when unset."""
    if value is None or value == "":
        return empty
    number = Decimal(value).normalize()
    return f"{number:f}"
