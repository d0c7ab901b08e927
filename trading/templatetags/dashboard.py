"""Template filters of the dashboard."""

from decimal import Decimal

from django import template

from exchanges.currency import is_usd

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


@register.filter
def money(value, currency: str) -> str:
    """An amount in ``currency`` with its name: "12.34 USDT"; a non-USD quote keeps 8 significant digits
    ("0.00012345 BTC"), since two decimals of a bitcoin hide most position's PnL."""
    if value is None or value == "":
        return "—"
    amount = Decimal(value)
    text = f"{amount:,.2f}" if is_usd(currency) else rounded(amount)
    return f"{text} {currency}"
