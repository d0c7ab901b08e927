"""Take-profit, stop-loss, market-entry trigger and slippage rules (pure: plain values, no ORM).

``side`` is the position's side (long/short); ``order_side`` an order's (buy/sell).
"""

from dataclasses import dataclass
from decimal import Decimal

from exchanges.enums import OrderSide
from trading.vocabulary import Side

HUNDRED = Decimal(100)


def aggregate_target(side: str, average: Decimal, percent: Decimal) -> Decimal:
    """Weighted average × (1 + X %) for a long, × (1 − X %) for a short."""
    factor = 1 + percent / HUNDRED if side == Side.LONG else 1 - percent / HUNDRED
    return average * factor


def target_reached(side: str, price: Decimal, target: Decimal) -> bool:
    return price >= target if side == Side.LONG else price <= target


def stop_from_percent(side: str, average: Decimal, percent: Decimal) -> Decimal:
    """Weighted average × (1 − X %) for a long, × (1 + X %) for a short."""
    factor = 1 - percent / HUNDRED if side == Side.LONG else 1 + percent / HUNDRED
    return average * factor


def stop_reached(side: str, price: Decimal, stop: Decimal) -> bool:
    return price <= stop if side == Side.LONG else price >= stop


def trigger_fires(order_side: str, price: Decimal, trigger: Decimal) -> bool:
    """A waiting market entry fires when price comes to it: a buy at or below, a sell at or above."""
    return price <= trigger if order_side == OrderSide.BUY else price >= trigger


def slippage_percent(order_side: str, decision_price: Decimal, fill_price: Decimal) -> Decimal:
    """How much worse than the price at decision time the fill was (negative: better)."""
    move = (fill_price - decision_price) / decision_price * HUNDRED
    return move if order_side == OrderSide.BUY else -move


def protected_limit(order_side: str, decision_price: Decimal, max_slippage_percent: Decimal) -> Decimal:
    """The worst acceptable price of a limit-protected market order."""
    factor = 1 + max_slippage_percent / HUNDRED if order_side == OrderSide.BUY else 1 - max_slippage_percent / HUNDRED
    return decision_price * factor


@dataclass(frozen=True)
class ExitTrigger:
    reason: str  # stop_loss | aggregate_tp
    trigger_price: Decimal


def position_exit_trigger(
    *,
    side: str,
    tp_mode: str,
    price: Decimal | None,
    average: Decimal | None,
    held: Decimal,
    tp_aggregate_percent: Decimal,
    stop_loss_percent: Decimal | None,
    stop_loss_price: Decimal | None,
) -> ExitTrigger | None:
    """Whether the whole position must close now. A stop is checked before a take-profit."""
    if price is None or average is None or held <= 0:
        return None
    stops = []
    if stop_loss_percent:
        stops.append(stop_from_percent(side, average, stop_loss_percent))
    if stop_loss_price:
        stops.append(stop_loss_price)
    for stop in stops:
        if stop_reached(side, price, stop):
            return ExitTrigger("stop_loss", stop)
    if tp_mode in ("aggregate", "hybrid") and tp_aggregate_percent > 0:
        target = aggregate_target(side, average, tp_aggregate_percent)
        if target_reached(side, price, target):
            return ExitTrigger("aggregate_tp", target)
    return None


@dataclass(frozen=True)
class PyramidHolding:
    index: int
    average: Decimal | None
    held: Decimal
    tp_percent: Decimal


def pyramids_to_close(side: str, price: Decimal | None, pyramids: list[PyramidHolding]) -> list[int]:
    """pyramid_aggregate: the pyramids whose own average × (1 ± their percent) the price reached."""
    if price is None:
        return []
    return [
        p.index
        for p in pyramids
        if p.held > 0
        and p.average is not None
        and p.tp_percent > 0
        and target_reached(side, price, aggregate_target(side, p.average, p.tp_percent))
    ]
