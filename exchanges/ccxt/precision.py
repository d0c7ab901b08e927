"""Numbers between ccxt and us: ccxt's ``precision`` values as ticks and steps, and its floats and
strings as ``Decimal`` (built from ``str(x)``) or as plain decimal strings going back to ccxt, its
millisecond timestamps as datetimes.

Precision modes: ccxt 4.5 parses Binance and Bybit (and almost every exchange) in ``TICK_SIZE``
mode (precision.price is the tick itself, e.g. 0.01). ``DECIMAL_PLACES`` (precision.price = 2 means
a tick of 0.01) is converted too. ``SIGNIFICANT_DIGITS`` (ccxt's bitfinex and bithumb) has no fixed
tick at all, so such exchanges are refused with a clear error rather than traded with a guess
(``CcxtConnector._download_markets``).
"""

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

import ccxt


def _plain(number: Decimal) -> Decimal:
    """0.00000001 rather than 1E-8, so ticks read naturally wherever they are shown or stored."""
    return Decimal(format(number, "f"))


def increment_from_precision(value, precision_mode: int) -> Decimal | None:
    """The price tick or amount step that ccxt's ``precision`` value means; None when unusable."""
    if value is None:
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    if precision_mode == ccxt.TICK_SIZE:
        return _plain(number) if number > 0 else None
    if precision_mode == ccxt.DECIMAL_PLACES:
        if number != number.to_integral_value():
            return None
        return _plain(Decimal(1).scaleb(-int(number)))
    raise ValueError(f"ccxt precision mode {precision_mode} has no fixed increment")  # see _download_markets


def to_text(number) -> str:
    """A plain decimal string (no exponent) for ccxt, exact for Decimal input."""
    return format(Decimal(str(number)), "f")


def to_decimal(value) -> Decimal | None:
    """ccxt's number (float, string or None) as a Decimal; None when absent, empty or not finite."""
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def datetime_from_ms(milliseconds) -> datetime | None:
    if milliseconds is None:
        return None
    return datetime.fromtimestamp(int(milliseconds) / 1000, tz=UTC)
