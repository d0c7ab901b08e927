"""Template filters of the dashboard: numbers as ``exchanges.numbers`` writes them.

``tick`` and ``step`` take the market (anything with ``tick_size`` and ``step_size``, e.g.
``exchanges.connector.Market``) or None when it is not known, where they fall back to the number as
stored (8 significant digits for a computed one).
"""

from decimal import Decimal

from django import template
from django.utils import timezone

from exchanges.currency import is_usd
from exchanges.numbers import EMPTY, at_increment, plain
from exchanges.numbers import percent as percent_text

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
def fraction_percent(value) -> str:
    """A fraction as a percentage to two places: 0.0512 → 5.12%; — when unset."""
    if value is None or value == "":
        return EMPTY
    return percent_text(Decimal(value) * 100)


@register.filter
def money(value, currency: str) -> str:
    """An amount in ``currency`` with its name: "1,234.50 USDT"; a non-USD quote keeps 8 significant digits
    ("0.00012345 BTC"), since two decimals of a bitcoin hide most position's PnL."""
    if value is None or value == "":
        return EMPTY
    amount = Decimal(value)
    text = f"{amount:,.2f}" if is_usd(currency) else at_increment(amount, None)
    return f"{text} {currency}"


@register.filter
def order_fee(order, quote: str) -> str:
    """What one order's fills cost: "0.1 USDT", "0.00001 BTC"; a fee in a third currency with its value in
    the quote at the recorded rate ("0.0002 BNB ≈ 0.12 USDT"); "—" for an order with no fill."""
    if not order.fee and not order.filled_quantity:
        return "—"
    currency = order.fee_currency or quote
    text = f"{price(order.fee)} {currency}"
    if order.fee and order.fee_rate is not None and currency != quote:
        text += f" ≈ {money(order.fee * order.fee_rate, quote)}"
    return text


def duration_text(seconds: float) -> str:
    """A trade's length for people: "45 s", "12 min", "3 h 05 min", "2 d 4 h"."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{max(seconds, 0)} s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if hours < 1:
        return f"{minutes} min"
    if days < 1:
        return f"{hours} h {minutes % 60:02d} min"
    return f"{days} d {hours % 24} h"


@register.filter
def duration_until(start, end) -> str:
    """``{{ opened|duration_until:closed }}``: how long from one moment to the other; "—" if either is unset."""
    if not start or not end:
        return "—"
    return duration_text((end - start).total_seconds())


@register.filter
def age(moment) -> str:
    """How long ago ``moment`` was: "12 s ago", "3 min ago", "2 h 05 min ago"; "never" if unset."""
    if not moment:
        return "never"
    return f"{duration_text((timezone.now() - moment).total_seconds())} ago"
