"""The sell budget: what a position group may still sell (long) or buy back (short).

    budget = held − what live exits and live take-profits may still sell

``held`` comes from the group's fills (entries net of base-asset fees, less every exit fill); an
exit or take-profit is live while it may still fill (pending, open, partly filled, or unknown:
sent, answer lost). Every path that reduces a position — per-leg take-profits, aggregate, hybrid
and pyramid targets, stop loss, exit, reduce, reverse, risk offset, manual close, the sweeps —
takes its quantity from ``sell_budget`` *while holding the group's row lock* (``trading.locks.lock_group``) and
commits its order row (``pending``) in that same transaction, before any exchange call. A second
path racing it (the price task and the fill sync evaluating one group, a task run twice, a sweep
re-sending a close) then finds that quantity spoken for: closes of one group are serialised, and a
second close joins the one in flight instead of sending another.
"""

from decimal import Decimal

from django.db.models import F, Sum

from trading.models import Order, PositionGroup
from trading.services.fills import held_quantity
from trading.states import ORDER_LIVE_STATUSES

ZERO = Decimal(0)


def committed(group: PositionGroup) -> Decimal:
    """What the group's live exits and take-profits may still sell."""
    live = group.orders.filter(role__in=[Order.Role.EXIT, Order.Role.TAKE_PROFIT], status__in=ORDER_LIVE_STATUSES)
    return live.aggregate(rest=Sum(F("quantity") - F("filled_quantity")))["rest"] or ZERO


def sell_budget(group: PositionGroup) -> Decimal:
    """held − committed, never below zero. Call while holding the group's lock (``trading.locks.lock_group``)."""
    return max(held_quantity(group) - committed(group), ZERO)


def live_exits(group: PositionGroup):
    """The group's exits (market closes) that may still fill."""
    return group.orders.filter(role=Order.Role.EXIT, status__in=ORDER_LIVE_STATUSES)
