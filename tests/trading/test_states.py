"""The whole transition matrix of both state machines (pure, no database)."""

import itertools

import pytest

from trading.states import GroupStatus as G
from trading.states import IllegalTransition, check_group_move, check_order_move
from trading.states import OrderStatus as O

ALLOWED_GROUP_MOVES = {
    (G.WAITING, G.LIVE), (G.WAITING, G.FAILED), (G.WAITING, G.CLOSING), (G.WAITING, G.CLOSED),
    (G.LIVE, G.PARTIALLY_FILLED), (G.LIVE, G.ACTIVE), (G.LIVE, G.CLOSING), (G.LIVE, G.CLOSED), (G.LIVE, G.FAILED),
    (G.PARTIALLY_FILLED, G.ACTIVE), (G.PARTIALLY_FILLED, G.CLOSING), (G.PARTIALLY_FILLED, G.CLOSED),
    (G.ACTIVE, G.PARTIALLY_FILLED), (G.ACTIVE, G.CLOSING), (G.ACTIVE, G.CLOSED),
    (G.CLOSING, G.CLOSED), (G.CLOSING, G.ACTIVE), (G.CLOSING, G.PARTIALLY_FILLED),
}

ALLOWED_ORDER_MOVES = {
    (O.PENDING, O.OPEN), (O.PENDING, O.PARTIALLY_FILLED), (O.PENDING, O.FILLED), (O.PENDING, O.CANCELLED),
    (O.PENDING, O.FAILED), (O.PENDING, O.UNKNOWN),
    (O.TRIGGER_PENDING, O.PENDING), (O.TRIGGER_PENDING, O.CANCELLED), (O.TRIGGER_PENDING, O.FAILED),
    (O.OPEN, O.PARTIALLY_FILLED), (O.OPEN, O.FILLED), (O.OPEN, O.CANCELLED), (O.OPEN, O.FAILED), (O.OPEN, O.UNKNOWN),
    (O.PARTIALLY_FILLED, O.FILLED), (O.PARTIALLY_FILLED, O.CANCELLED), (O.PARTIALLY_FILLED, O.UNKNOWN),
    (O.UNKNOWN, O.PENDING), (O.UNKNOWN, O.OPEN), (O.UNKNOWN, O.PARTIALLY_FILLED), (O.UNKNOWN, O.FILLED),
    (O.UNKNOWN, O.CANCELLED), (O.UNKNOWN, O.FAILED),
}


@pytest.mark.parametrize("current,to", list(itertools.product(G, G)))
def test_group_move_is_allowed_exactly_when_the_design_says(current, to):
    if (current, to) in ALLOWED_GROUP_MOVES:
        check_group_move(current, to)
    else:
        with pytest.raises(IllegalTransition, match=f"from '{current}' to '{to}'"):
            check_group_move(current, to)


@pytest.mark.parametrize("current,to", list(itertools.product(O, O)))
def test_order_move_is_allowed_exactly_when_the_design_says(current, to):
    if (current, to) in ALLOWED_ORDER_MOVES:
        check_order_move(current, to)
    else:
        with pytest.raises(IllegalTransition):
            check_order_move(current, to)


def test_closed_and_failed_groups_and_finished_orders_never_move_again():
    for terminal in (G.CLOSED, G.FAILED):
        assert not [to for to in G if (terminal, to) in ALLOWED_GROUP_MOVES]
    for terminal in (O.FILLED, O.CANCELLED, O.FAILED):
        assert not [to for to in O if (terminal, to) in ALLOWED_ORDER_MOVES]
