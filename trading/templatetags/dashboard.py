"""Template filters of the dashboard: numbers as ``exchanges.numbers`` writes them.

``tick`` and ``step`` take the market (anything with ``tick_size`` and ``step_size``, e.g.
``exchanges.connector.Market``) or None when it is not known, where they fall back to the number as
stored (8 significant digits for a computed one).
"""

from decimal import Decimal

from django import template

from exchanges.currency import is_usd
from exchanges.numbers import EMPTY, at_increment, percent as percent_text, plain

register = template.Library()


@register.filter
def price(value, empty: str = EMPTY) -> str:
    """A price or quantity as stored, without trailing zeros (99.5, not 99.50000000); ``empty`` when unset."""
    if value is None or value == "":
        return empty
    return plain(value)


@register.filter
def rounded(value, empty: str = EMPTY) -> str:
    """A computed price (an average entry) to 8 significant digits, trailing zeros dropped."""
    return at_increment(value, None, empty=empty).replace(",", "")


@register.filter
def tick(value, market) -> str:
    """A price at the market's tick: 61,200.5 on a 0.1-tick market."""
    return at_increment(value, getattr(market, "tick_size", None))


@register.filter
def step(value, market) -> str:
    """A quantity at the market's step: 0.00332 on a 0.00001-step market."""
    return at_increment(value, getattr(market, "step_size", None))


@register.filter
def percent(value) -> str:
    """A percentage to two places: 2.00%."""
    return percent_text(value)


@register.filter
def money(value, currency: str) -> str:
    """An amount in ``currency`` with its name: "1,234.50 USDT"; a non-USD quote keeps 8 significant digits
    ("0.00012345 BTC"), since two decimals of a bitcoin hide most position's PnL."""
    if value is None or value == "":
        return EMPTY
    amount = Decimal(value)
    text = f"{amount:,.2f}" if is_usd(currency) else at_increment(amount, None)
    return f"{text} {currency}"
