"""Paper exchange matching rules (pure: plain values in, plain values out).

A resting limit buy fills when the price is at or below its limit, a limit sell when the price is
at or above it, both at the limit price. A market order fills at once at the current price moved
against the trader by the configured slippage. ``partial_fill_ratio`` below 1 fills only that
share of the order's amount per matching pass, so partial fills can be exercised.
"""

from dataclasses import dataclass
from decimal import Decimal

from exchanges.enums import OrderSide
from exchanges.numbers import round_to_step, round_to_tick

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Fill:
    amount: Decimal
    price: Decimal
    fee: Decimal
    fee_asset: str
    is_maker: bool


def limit_crosses(side: str, limit: Decimal, price: Decimal) -> bool:
    return price <= limit if side == OrderSide.BUY else price >= limit


def market_fill_price(side: str, price: Decimal, slippage_percent: Decimal, tick: Decimal) -> Decimal:
    """The current price moved against the trader by the slippage, on the tick grid."""
    if side == OrderSide.BUY:
        return round_to_tick(price * (1 + slippage_percent / HUNDRED), tick, up=True)
    return round_to_tick(price * (1 - slippage_percent / HUNDRED), tick)


def fill_amount(*, amount: Decimal, filled: Decimal, ratio: Decimal, step: Decimal) -> Decimal:
    """How much of the order fills in one pass: ``ratio`` of its amount, never more than remains."""
    remaining = amount - filled
    if ratio >= 1:
        return remaining
    portion = round_to_step(amount * ratio, step)
    if portion <= 0 or remaining - portion < step:
        return remaining  # do not leave a dust remainder no exchange would accept
    return min(portion, remaining)


def make_fill(
    *, side: str, amount: Decimal, price: Decimal, base: str, quote: str, fee_percent: Decimal, is_maker: bool
) -> Fill:
    """Fees as on Binance spot by default: a buy pays in the base asset it receives, a sell in quote."""
    if side == OrderSide.BUY:
        return Fill(amount, price, amount * fee_percent / HUNDRED, base, is_maker)
    return Fill(amount, price, amount * price * fee_percent / HUNDRED, quote, is_maker)


def average_price(old_filled: Decimal, old_average: Decimal | None, fill: Fill) -> Decimal:
    if not old_filled or old_average is None:
        return fill.price
    return (old_filled * old_average + fill.amount * fill.price) / (old_filled + fill.amount)
