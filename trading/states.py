"""The state machines of position groups and orders: statuses and the moves allowed between them.

Pure: no ORM. ``trading.services.transitions`` applies a move to a row; nothing else assigns a
status, so every move is checked against these tables and logged.
"""

from enum import StrEnum


class IllegalTransition(Exception):
    """A status move the state machine does not allow."""

    def __init__(self, kind: str, current: str, to: str):
        super().__init__(f"{kind} cannot move from '{current}' to '{to}'")
        self.kind, self.current, self.to = kind, current, to


class GroupStatus(StrEnum):
    WAITING = "waiting"  # created, orders not yet on the exchange
    LIVE = "live"  # orders placed, nothing filled
    PARTIALLY_FILLED = "partially_filled"
    ACTIVE = "active"  # every entry leg filled
    CLOSING = "closing"
    CLOSED = "closed"
    FAILED = "failed"


class OrderStatus(StrEnum):
    PENDING = "pending"  # committed, not yet sent
    TRIGGER_PENDING = "trigger_pending"  # market leg waiting for its price
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    FAILED = "failed"
    UNKNOWN = "unknown"  # sent, but the answer was lost: resolved by lookup


G, O = GroupStatus, OrderStatus

GROUP_MOVES: dict[GroupStatus, frozenset[GroupStatus]] = {
    # An exit can arrive before the grid reaches the exchange: waiting may close directly.
    G.WAITING: frozenset({G.LIVE, G.FAILED, G.CLOSING, G.CLOSED}),
    # All legs can fill inside one sync cycle, so live may jump straight to active.
    G.LIVE: frozenset({G.PARTIALLY_FILLED, G.ACTIVE, G.CLOSING, G.CLOSED, G.FAILED}),
    G.PARTIALLY_FILLED: frozenset({G.ACTIVE, G.CLOSING, G.CLOSED}),
    # A new pyramid on a fully filled group adds unfilled legs again.
    G.ACTIVE: frozenset({G.PARTIALLY_FILLED, G.CLOSING, G.CLOSED}),
    # A close the exchange refused hands the position back to the state it held.
    G.CLOSING: frozenset({G.CLOSED, G.ACTIVE, G.PARTIALLY_FILLED}),
    G.CLOSED: frozenset(),
    G.FAILED: frozenset(),
}

ORDER_MOVES: dict[OrderStatus, frozenset[OrderStatus]] = {
    O.PENDING: frozenset({O.OPEN, O.PARTIALLY_FILLED, O.FILLED, O.CANCELLED, O.FAILED, O.UNKNOWN}),
    O.TRIGGER_PENDING: frozenset({O.PENDING, O.CANCELLED, O.FAILED}),
    O.OPEN: frozenset({O.PARTIALLY_FILLED, O.FILLED, O.CANCELLED, O.FAILED, O.UNKNOWN}),
    O.PARTIALLY_FILLED: frozenset({O.FILLED, O.CANCELLED, O.UNKNOWN}),
    # A lookup by client order id settles it; "not found" after the grace period allows a resend.
    O.UNKNOWN: frozenset({O.PENDING, O.OPEN, O.PARTIALLY_FILLED, O.FILLED, O.CANCELLED, O.FAILED}),
    O.FILLED: frozenset(),
    O.CANCELLED: frozenset(),
    O.FAILED: frozenset(),
}

# Groups in these statuses hold the (user, exchange, symbol, timeframe, side) identity.
GROUP_ACTIVE_STATUSES = frozenset(s for s in GroupStatus if s not in (G.CLOSED, G.FAILED))
GROUP_TERMINAL_STATUSES = frozenset({G.CLOSED, G.FAILED})
# Orders that may still rest on (or reach) the exchange.
ORDER_LIVE_STATUSES = frozenset({O.PENDING, O.OPEN, O.PARTIALLY_FILLED, O.UNKNOWN})
ORDER_TERMINAL_STATUSES = frozenset({O.FILLED, O.CANCELLED, O.FAILED})
# Orders the fill sync asks the exchange about (trading.services.sync; a pending one has not reached it yet).
SYNCED_STATUSES = [O.OPEN, O.PARTIALLY_FILLED, O.UNKNOWN]


def check_group_move(current: str, to: str) -> None:
    if GroupStatus(to) not in GROUP_MOVES[GroupStatus(current)]:
        raise IllegalTransition("position group", current, to)


def check_order_move(current: str, to: str) -> None:
    if OrderStatus(to) not in ORDER_MOVES[OrderStatus(current)]:
        raise IllegalTransition("order", current, to)


def choices(enum: type[StrEnum]) -> list[tuple[str, str]]:
    """Django field choices from an enum: ("partially_filled", "Partially filled")."""
    return [(member.value, member.value.replace("_", " ").capitalize()) for member in enum]
