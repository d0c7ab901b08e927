"""Numbers on the market's increments (pure: Decimal in, Decimal or text out).

``round_to_step`` / ``round_to_tick`` are the one way a value is cut to a whole number of an
increment (a quantity to the lot size, a price to the tick) anywhere in the engine; the caller says
which way: the grid cuts towards the trader's safe side (``trading.grid.round_price``: a buy down, a
sell up), the paper exchange moves a market fill against the trader, the risk engine rounds a
winner's close up to cover the loss.

The rest is how numbers read where a trader sees them. Prices read at the market's tick and
quantities at its step, the way the exchange shows them: a computed average entry of 99.7493765586
on a 0.01-tick market is 99.75. Trailing zeros are dropped (a leg at 100 is "100", not "100.00"),
thousands are grouped ("61,200"), and nothing is ever written in exponent form: a DecimalField's 12
stored places make ``Decimal("10.000000000000").normalize()`` print as ``1E+1``.

Rounding for display is to the nearest (half up): a shown average must be the closest number, while
orders are cut where they are made, with ``round_to_step``, never with the display functions here.
"""

from decimal import ROUND_HALF_UP, Decimal

EMPTY = "—"
# Significant digits of a computed number when the market's tick is not known: 99.749377, not
# 99.7493765586034912 (a price of any size keeps all of its whole digits).
SIGNIFICANT_DIGITS = 8


def round_to_step(value: Decimal, step: Decimal, *, up: bool = False) -> Decimal:
    """``value`` as a whole number of ``step``s, rounded down (towards minus infinity) or ``up``.

    Exact at any size (integer division, nothing rounded to the context's 28 digits before the cut)
    and written with the step's decimal places: 2.0202 at step 0.001 is 2.020, 17 at step 5 is 15.
    """
    units, rest = divmod(value, step)  # units truncated towards zero; rest has the sign of value
    if up and rest > 0:
        units += 1
    elif not up and rest < 0:
        units -= 1
    return units * step


def round_to_tick(price: Decimal, tick: Decimal, *, up: bool = False) -> Decimal:
    """A price on the market's tick grid, rounded down or ``up`` (``round_to_step`` for prices)."""
    return round_to_step(price, tick, up=up)


def decimals_of(increment: Decimal) -> int:
    """The decimal places an increment has: 0.01 → 2, 0.5 → 1, 10 → 0."""
    exponent = Decimal(increment).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def plain(value) -> str:
    """A number as typed: no trailing zeros, no exponent, no grouping ("12", "0.00332", "10"), for forms
    and machine-readable places. ``""`` for None."""
    if value is None or value == "":
        return ""
    number = Decimal(value)
    if number == number.to_integral_value():
        return f"{number.quantize(Decimal(1)) + 0:f}"  # 1E+1 → 10, and + 0 makes -0.000 read 0
    return f"{number.normalize():f}"


def grouped(value) -> str:
    """``plain`` with thousands grouped: 61200.5 → "61,200.5"."""
    text = plain(value)
    if not text:
        return EMPTY
    sign, text = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, dot, fraction = text.partition(".")
    return f"{sign}{int(whole):,}{dot}{fraction}"


def at_increment(value, increment: Decimal | None, *, empty: str = EMPTY) -> str:
    """``value`` at an increment's decimal places (a price at the tick, a quantity at the step), grouped,
    trailing zeros dropped. Without an increment: as stored, or 8 significant digits if it has more."""
    if value is None or value == "":
        return empty
    number = Decimal(value)
    if increment:
        places = decimals_of(increment)
    elif number and number.adjusted() >= SIGNIFICANT_DIGITS:
        places = 0
    elif number:
        places = max(0, SIGNIFICANT_DIGITS - 1 - number.adjusted())
    else:
        places = 0
    return grouped(number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def percent(value, *, empty: str = EMPTY) -> str:
    """A percentage to two places: "2.00%", "-0.35%"."""
    if value is None or value == "":
        return empty
    number = Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{number + 0:,.2f}%"  # + 0 turns -0.00 into 0.00
