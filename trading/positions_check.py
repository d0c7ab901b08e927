"""The exchange's positions against what the engine expects them to hold (pure: plain values, no ORM).

A swap account's position is identified on the exchange by its symbol (one-way mode) or its symbol and
leg (hedge mode); ``Unit`` is that key with the side the engine's groups hold. What the engine expects on
a unit is the sum of its live groups' net filled base quantity (entries filled minus exits filled).

The exchange is read at one moment and the engine's view of the fills is read at others, so a fill in
between makes the two disagree without anything having happened. ``confirmed_expected`` takes the engine's
view from *before* the positions read and removes every exit fill seen between that view and a fresh
re-sync made *after* the read: whatever order the fills and the read came in, the position at the read
was at least that (entries seen late only make the exchange look larger). A shortfall against that lower
bound is real: the exchange closed (part of) the position itself, or a trader did by hand. Entry fills
recorded in the last few seconds are left out of the bound too: some exchanges' positions answer lags their
orders' (an answer late), and a position that does not show a fill yet is not a position closed.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from trading.vocabulary import ExitReason, Side

ZERO = Decimal(0)


@dataclass(frozen=True)
class Unit:
    """One position on the exchange as the engine's groups hold it: ``leg`` is "" in one-way mode."""

    symbol: str
    leg: str
    side: str


def unit_of(symbol: str, side: str, position_mode: str) -> Unit:
    """The unit a group trades: its own leg in hedge mode, the symbol's one position otherwise."""
    return Unit(symbol, side if position_mode == "hedge" else "", side)


def held_on_exchange(positions: list[Any], unit: Unit) -> Decimal:
    """What the exchange holds on ``unit`` (zero: no such position). A position reported twice counts once;
    one on the other side (a one-way position flipped by hand) holds nothing of this unit."""
    sizes = [
        abs(p.quantity)
        for p in positions
        if p.symbol == unit.symbol and p.side == unit.side and (not unit.leg or (p.position_side or p.side) == unit.leg)
    ]
    return max(sizes, default=ZERO)


def matching_position(positions: list[Any], unit: Unit) -> Any | None:
    """The exchange's position on ``unit`` (the largest, if it was reported twice), or None."""
    found = [
        p
        for p in positions
        if p.symbol == unit.symbol and p.side == unit.side and (not unit.leg or (p.position_side or p.side) == unit.leg)
    ]
    return max(found, key=lambda p: abs(p.quantity), default=None)


def short_of(expected: Decimal, on_exchange: Decimal, tolerance: Decimal) -> bool:
    """The exchange holds less than expected by more than ``tolerance`` (one amount step of the market)."""
    return on_exchange + tolerance < expected


def longer_than(expected: Decimal, on_exchange: Decimal, tolerance: Decimal) -> bool:
    return on_exchange > expected + tolerance


def confirmed_expected(
    held_before: Decimal, exits_before: Decimal, exits_after: Decimal, fresh_entries: Decimal = ZERO
) -> Decimal:
    """The least a group can have held at the positions read: its holding before the read, less every exit
    fill the re-sync after the read found (``exits_*``: the group's exit quantity filled, before and after),
    less ``fresh_entries``: entry fills recorded so recently that a positions answer lagging the orders'
    (an exchange answering late) may not hold them yet."""
    return max(held_before - max(exits_after - exits_before, ZERO) - fresh_entries, ZERO)


@dataclass(frozen=True)
class Held:
    group_id: Any
    quantity: Decimal  # what the engine expects the group holds on the exchange
    created_at: datetime


def groups_to_close(groups: list[Held], on_exchange: Decimal, tolerance: Decimal) -> list[Held]:
    """The groups the exchange no longer holds: all of them when the position is gone, else the newest
    first until what the others expect fits in what the exchange holds. Groups holding nothing are left
    alone (their resting entries may still open the position)."""
    holding = sorted((g for g in groups if g.quantity > 0), key=lambda g: g.created_at, reverse=True)
    if on_exchange <= 0:
        return holding
    closing: list[Held] = []
    remaining = sum((g.quantity for g in holding), ZERO)
    for group in holding:
        if not short_of(remaining, on_exchange, tolerance):
            break
        closing.append(group)
        remaining -= group.quantity
    return closing


def lost_reason(side: str, price: Decimal | None, liquidation_price: Decimal | None) -> ExitReason:
    """``liquidated`` when the price has reached the position's last known liquidation price (long: at or
    below it; short: at or above it), else ``closed_on_exchange``."""
    if price is None or liquidation_price is None or liquidation_price <= 0:
        return ExitReason.CLOSED_ON_EXCHANGE
    reached = price <= liquidation_price if side == Side.LONG else price >= liquidation_price
    return ExitReason.LIQUIDATED if reached else ExitReason.CLOSED_ON_EXCHANGE
