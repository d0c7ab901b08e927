"""The whole transition matrix of every state machine (pure, no database)."""

import itertools

import pytest

from trading.states import GroupStatus as G
from trading.states import (
    IllegalTransition,
    check_group_move,
    check_order_move,
    check_pyramid_move,
    check_queued_signal_move,
    check_signal_move,
)
from trading.states import OrderStatus as O
from trading.states import PyramidStatus as P
from trading.states import QueuedSignalStatus as Q
from trading.states import SignalStatus as S

ALLOWED_GROUP_MOVES = {
    (G.WAITING, G.LIVE),
    (G.WAITING, G.FAILED),
    (G.WAITING, G.CLOSING),
    (G.WAITING, G.CLOSED),
    (G.LIVE, G.PARTIALLY_FILLED),
    (G.LIVE, G.ACTIVE),
    (G.LIVE, G.CLOSING),
    (G.LIVE, G.CLOSED),
    (G.LIVE, G.FAILED),
    (G.PARTIALLY_FILLED, G.ACTIVE),
    (G.PARTIALLY_FILLED, G.CLOSING),
    (G.PARTIALLY_FILLED, G.CLOSED),
    (G.ACTIVE, G.PARTIALLY_FILLED),
    (G.ACTIVE, G.CLOSING),
    (G.ACTIVE, G.CLOSED),
    (G.CLOSING, G.CLOSED),
    (G.CLOSING, G.ACTIVE),
    (G.CLOSING, G.PARTIALLY_FILLED),
}

ALLOWED_ORDER_MOVES = {
    (O.PENDING, O.OPEN),
    (O.PENDING, O.PARTIALLY_FILLED),
    (O.PENDING, O.FILLED),
    (O.PENDING, O.CANCELLED),
    (O.PENDING, O.FAILED),
    (O.PENDING, O.UNKNOWN),
    (O.TRIGGER_PENDING, O.PENDING),
    (O.TRIGGER_PENDING, O.CANCELLED),
    (O.TRIGGER_PENDING, O.FAILED),
    (O.OPEN, O.PARTIALLY_FILLED),
    (O.OPEN, O.FILLED),
    (O.OPEN, O.CANCELLED),
    (O.OPEN, O.FAILED),
    (O.OPEN, O.UNKNOWN),
    (O.PARTIALLY_FILLED, O.FILLED),
    (O.PARTIALLY_FILLED, O.CANCELLED),
    (O.PARTIALLY_FILLED, O.UNKNOWN),
    (O.UNKNOWN, O.PENDING),
    (O.UNKNOWN, O.OPEN),
    (O.UNKNOWN, O.PARTIALLY_FILLED),
    (O.UNKNOWN, O.FILLED),
    (O.UNKNOWN, O.CANCELLED),
    (O.UNKNOWN, O.FAILED),
}

ALLOWED_PYRAMID_MOVES = {
    (P.PENDING, P.SUBMITTED),
    (P.PENDING, P.FAILED),
    (P.PENDING, P.CLOSED),
    (P.SUBMITTED, P.PARTIALLY_FILLED),
    (P.SUBMITTED, P.FILLED),
    (P.SUBMITTED, P.FAILED),
    (P.SUBMITTED, P.CLOSED),
    (P.PARTIALLY_FILLED, P.FILLED),
    (P.PARTIALLY_FILLED, P.FAILED),
    (P.PARTIALLY_FILLED, P.CLOSED),
    (P.FILLED, P.CLOSED),
    (P.CLOSED, P.FILLED),  # a pyramid's own close the exchange refused
}

ROUTED = (S.OPENED, S.PYRAMIDED, S.EXITED, S.REDUCED, S.REVERSED, S.QUEUED, S.IGNORED, S.REJECTED, S.FAILED)
ALLOWED_SIGNAL_MOVES = {
    *((S.RECEIVED, to) for to in ROUTED),
    (S.QUEUED, S.OPENED),
    (S.QUEUED, S.PYRAMIDED),
    (S.QUEUED, S.REVERSED),
    (S.QUEUED, S.IGNORED),
    (S.QUEUED, S.REJECTED),
    (S.QUEUED, S.FAILED),
    (S.REVERSED, S.FAILED),  # the close the reverse waited on failed
}

ALLOWED_QUEUED_SIGNAL_MOVES = {(Q.QUEUED, Q.PROMOTED), (Q.QUEUED, Q.EXPIRED), (Q.QUEUED, Q.CANCELLED)}


# (the kind the refusal names, its statuses, the moves the design allows, the check)
MACHINES = {
    "position group": (G, ALLOWED_GROUP_MOVES, check_group_move),
    "order": (O, ALLOWED_ORDER_MOVES, check_order_move),
    "pyramid": (P, ALLOWED_PYRAMID_MOVES, check_pyramid_move),
    "signal": (S, ALLOWED_SIGNAL_MOVES, check_signal_move),
    "queue entry": (Q, ALLOWED_QUEUED_SIGNAL_MOVES, check_queued_signal_move),
}


@pytest.mark.parametrize(
    ("kind", "current", "to"),
    [
        (kind, current, to)
        for kind, (statuses, _, _) in MACHINES.items()
        for current, to in itertools.product(statuses, statuses)
    ],
)
def test_move_is_allowed_exactly_when_the_design_says(kind, current, to):
    _, allowed, check = MACHINES[kind]
    if (current, to) in allowed:
        check(current, to)
    else:
        with pytest.raises(IllegalTransition, match=f"{kind} cannot move from '{current}' to '{to}'"):
            check(current, to)


def test_closed_and_failed_groups_and_finished_orders_never_move_again():
    for terminal in (G.CLOSED, G.FAILED):
        assert not [to for to in G if (terminal, to) in ALLOWED_GROUP_MOVES]
    for terminal in (O.FILLED, O.CANCELLED, O.FAILED):
        assert not [to for to in O if (terminal, to) in ALLOWED_ORDER_MOVES]


def test_failed_pyramids_finished_signals_and_resolved_queue_entries_never_move_again():
    assert not [to for to in P if (P.FAILED, to) in ALLOWED_PYRAMID_MOVES]
    for terminal in (S.OPENED, S.PYRAMIDED, S.EXITED, S.REDUCED, S.IGNORED, S.REJECTED, S.FAILED):
        assert not [to for to in S if (terminal, to) in ALLOWED_SIGNAL_MOVES]
    for terminal in (Q.PROMOTED, Q.EXPIRED, Q.CANCELLED):
        assert not [to for to in Q if (terminal, to) in ALLOWED_QUEUED_SIGNAL_MOVES]
