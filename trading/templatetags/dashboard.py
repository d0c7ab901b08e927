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


# Significant digits an average price is shown with: 99.749377, not 99.7493765586034912.
AVERAGE_DIGITS = 8


@register.filter
def rounded(value, empty: str = "—") -> str:
    """A computed price (an average entry, a chart label) to 8 significant digits, trailing zeros dropped."""
    if value is None or value == "":
        return empty
    number = Decimal(value)
    if not number:
        return "0"
    exponent = number.adjusted() - AVERAGE_DIGITS + 1
    return f"{number.quantize(Decimal(1).scaleb(exponent)).normalize():f}"
