"""The state machines of the engine's five stateful records — position groups, orders, pyramids,
signals and queue entries: statuses, the moves allowed between them, and the named sets of statuses
the code filters on.

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


class PyramidStatus(StrEnum):
    PENDING = "pending"  # created with its legs, grid not yet on the exchange
    SUBMITTED = "submitted"  # every leg placed
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"  # every leg filled
    CLOSED = "closed"  # its position closed, or its own target closed it (pyramid_aggregate)
    FAILED = "failed"  # a leg was refused, or the close it waited on (a reverse) failed


class SignalStatus(StrEnum):
    RECEIVED = "received"  # accepted by the webhook, not yet routed
    OPENED = "opened"
    PYRAMIDED = "pyramided"
    EXITED = "exited"
    REDUCED = "reduced"
    REVERSED = "reversed"
    QUEUED = "queued"  # waiting in the execution queue for a pool slot
    IGNORED = "ignored"
    REJECTED = "rejected"
    FAILED = "failed"


class QueuedSignalStatus(StrEnum):
    QUEUED = "queued"
    PROMOTED = "promoted"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


G, Ord, P, S, Q = GroupStatus, OrderStatus, PyramidStatus, SignalStatus, QueuedSignalStatus

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
    Ord.PENDING: frozenset({Ord.OPEN, Ord.PARTIALLY_FILLED, Ord.FILLED, Ord.CANCELLED, Ord.FAILED, Ord.UNKNOWN}),
    Ord.TRIGGER_PENDING: frozenset({Ord.PENDING, Ord.CANCELLED, Ord.FAILED}),
    Ord.OPEN: frozenset({Ord.PARTIALLY_FILLED, Ord.FILLED, Ord.CANCELLED, Ord.FAILED, Ord.UNKNOWN}),
    Ord.PARTIALLY_FILLED: frozenset({Ord.FILLED, Ord.CANCELLED, Ord.UNKNOWN}),
    # A lookup by client order id settles it; "not found" after the grace period allows a resend.
    Ord.UNKNOWN: frozenset({Ord.PENDING, Ord.OPEN, Ord.PARTIALLY_FILLED, Ord.FILLED, Ord.CANCELLED, Ord.FAILED}),
    Ord.FILLED: frozenset(),
    Ord.CANCELLED: frozenset(),
    Ord.FAILED: frozenset(),
}

PYRAMID_MOVES: dict[PyramidStatus, frozenset[PyramidStatus]] = {
    # A leg refused for good fails the pyramid, also on a retried placement of a pyramid already
    # (partly) on the exchange; a position's close closes every pyramid not closed or failed.
    P.PENDING: frozenset({P.SUBMITTED, P.FAILED, P.CLOSED}),
    P.SUBMITTED: frozenset({P.PARTIALLY_FILLED, P.FILLED, P.FAILED, P.CLOSED}),
    P.PARTIALLY_FILLED: frozenset({P.FILLED, P.FAILED, P.CLOSED}),
    P.FILLED: frozenset({P.CLOSED}),
    # A pyramid's own close (pyramid_aggregate) the exchange refused hands its coins back: filled again.
    P.CLOSED: frozenset({P.FILLED}),
    P.FAILED: frozenset(),
}

SIGNAL_MOVES: dict[SignalStatus, frozenset[SignalStatus]] = {
    # Routing ends every received signal in one status (queued included).
    S.RECEIVED: frozenset(
        {S.OPENED, S.PYRAMIDED, S.EXITED, S.REDUCED, S.REVERSED, S.QUEUED, S.IGNORED, S.REJECTED, S.FAILED}
    ),
    # Only entries (and reverses) queue: promotion routes them again; replaced, dropped, cancelled or
    # expired they are ignored.
    S.QUEUED: frozenset({S.OPENED, S.PYRAMIDED, S.REVERSED, S.IGNORED, S.REJECTED, S.FAILED}),
    # A reverse's grid waits for the opposite side's close: if that close fails, so does the signal.
    S.REVERSED: frozenset({S.FAILED}),
    S.OPENED: frozenset(),
    S.PYRAMIDED: frozenset(),
    S.EXITED: frozenset(),
    S.REDUCED: frozenset(),
    S.IGNORED: frozenset(),
    S.REJECTED: frozenset(),
    S.FAILED: frozenset(),
}

QUEUED_SIGNAL_MOVES: dict[QueuedSignalStatus, frozenset[QueuedSignalStatus]] = {
    # A replacement by a newer signal keeps the entry queued (its fields change, not its status).
    Q.QUEUED: frozenset({Q.PROMOTED, Q.EXPIRED, Q.CANCELLED}),
    Q.PROMOTED: frozenset(),
    Q.EXPIRED: frozenset(),
    Q.CANCELLED: frozenset(),
}

# --- Named sets of statuses: the code filters on these, never on hand-written lists ---------------

# Groups in these statuses hold the (user, exchange, symbol, timeframe, side) identity.
GROUP_ACTIVE_STATUSES = frozenset(s for s in GroupStatus if s not in (G.CLOSED, G.FAILED))
GROUP_TERMINAL_STATUSES = frozenset({G.CLOSED, G.FAILED})
# Groups with orders on the exchange and no close under way: evaluated after every sync, by the risk
# engine, and the only ones a take-profit or a target may close.
GROUP_TRADING_STATUSES = frozenset({G.LIVE, G.PARTIALLY_FILLED, G.ACTIVE})
# Groups holding some of their position (at least one fill, no close under way).
GROUP_HOLDING_STATUSES = frozenset({G.PARTIALLY_FILLED, G.ACTIVE})
# Groups a close cannot start on: one is already under way, or the group is finished.
GROUP_NOT_CLOSABLE_STATUSES = frozenset({G.CLOSING, G.CLOSED, G.FAILED})

# Orders that may still rest on (or reach) the exchange.
ORDER_LIVE_STATUSES = frozenset({Ord.PENDING, Ord.OPEN, Ord.PARTIALLY_FILLED, Ord.UNKNOWN})
# Orders that may still fill: the live ones and a market leg waiting for its trigger price.
ORDER_MAY_STILL_FILL = ORDER_LIVE_STATUSES | {Ord.TRIGGER_PENDING}
ORDER_TERMINAL_STATUSES = frozenset({Ord.FILLED, Ord.CANCELLED, Ord.FAILED})
# Orders that ended without failing: whatever they filled is held (an entry leg then gets its take-profit).
ORDER_ENDED_STATUSES = frozenset({Ord.FILLED, Ord.CANCELLED})
# Orders that ended without ever being on the book for long: refused, or cancelled.
ORDER_DEAD_STATUSES = frozenset({Ord.CANCELLED, Ord.FAILED})
# Orders not (known to be) on the exchange yet: to send, or sent with the answer lost.
ORDER_UNSENT_STATUSES = frozenset({Ord.PENDING, Ord.UNKNOWN})
# Orders the fill sync asks the exchange about (placed, or lost in placement).
ORDER_SYNCED_STATUSES = frozenset({Ord.OPEN, Ord.PARTIALLY_FILLED, Ord.UNKNOWN})
# Orders that reached the exchange and rest or filled there (an order cancelled after a partial fill also holds
# coins: its filled quantity says so).
ORDER_ON_EXCHANGE_STATUSES = frozenset({Ord.OPEN, Ord.PARTIALLY_FILLED, Ord.FILLED, Ord.UNKNOWN})
# A take-profit in these statuses holds its entry leg's coins (live, or sold them): no second one.
ORDER_TAKE_PROFIT_HOLDING = ORDER_LIVE_STATUSES | {Ord.FILLED}

# Pyramids no longer filling or closing: closed or failed.
PYRAMID_ENDED_STATUSES = frozenset({P.CLOSED, P.FAILED})
# Pyramids on the exchange whose legs are still filling.
PYRAMID_FILLING_STATUSES = frozenset({P.SUBMITTED, P.PARTIALLY_FILLED})


def _check_move(kind: str, status: type[StrEnum], moves: dict, current: str, to: str) -> None:
    if status(to) not in moves[status(current)]:
        raise IllegalTransition(kind, current, to)


def check_group_move(current: str, to: str) -> None:
    _check_move("position group", GroupStatus, GROUP_MOVES, current, to)


def check_order_move(current: str, to: str) -> None:
    _check_move("order", OrderStatus, ORDER_MOVES, current, to)


def check_pyramid_move(current: str, to: str) -> None:
    _check_move("pyramid", PyramidStatus, PYRAMID_MOVES, current, to)


def check_signal_move(current: str, to: str) -> None:
    _check_move("signal", SignalStatus, SIGNAL_MOVES, current, to)


def check_queued_signal_move(current: str, to: str) -> None:
    _check_move("queue entry", QueuedSignalStatus, QUEUED_SIGNAL_MOVES, current, to)


def sources_of(moves: dict, to: StrEnum) -> frozenset:
    """Every status that may move to ``to``: the "from" filter of a bulk move."""
    return frozenset(current for current, targets in moves.items() if to in targets)


def label(status: str) -> str:
    """The display label of a status: "partially_filled" → "Partially filled"."""
    return status.replace("_", " ").capitalize()


def choices(enum: type[StrEnum]) -> list[tuple[str, str]]:
    """Django field choices from an enum: ("partially_filled", "Partially filled")."""
    return [(member.value, label(member.value)) for member in enum]
