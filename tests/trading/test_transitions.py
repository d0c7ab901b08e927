"""Status changes go through one function each, which refuses illegal moves and logs every move."""

import logging

import pytest

from tests.factories import OrderFactory, PositionGroupFactory
from trading.models import Order, PositionGroup
from trading.services.transitions import StaleStatus, group_transition, order_transition
from trading.states import GroupStatus, IllegalTransition, OrderStatus

pytestmark = pytest.mark.django_db


def test_group_moves_through_its_lifecycle_and_each_move_is_logged(caplog):
    group = PositionGroupFactory()
    caplog.set_level(logging.INFO, logger="trading.services.transitions")

    for to in (GroupStatus.LIVE, GroupStatus.PARTIALLY_FILLED, GroupStatus.ACTIVE, GroupStatus.CLOSING):
        group_transition(group, to=to)
    group_transition(group, to=GroupStatus.CLOSED, reason="exit signal")

    stored = PositionGroup.objects.get(pk=group.pk)
    assert stored.status == "closed"
    assert stored.closed_at is not None
    assert stored.status_reason == "exit signal"
    moves = [r.getMessage() for r in caplog.records]
    assert len(moves) == 5
    assert moves[-1].endswith("closing -> closed (exit signal)")


def test_illegal_group_move_raises_and_changes_nothing():
    group = PositionGroupFactory(status=GroupStatus.CLOSED)

    with pytest.raises(IllegalTransition):
        group_transition(group, to=GroupStatus.LIVE)

    assert PositionGroup.objects.get(pk=group.pk).status == "closed"


def test_group_move_from_a_stale_read_is_refused():
    group = PositionGroupFactory(status=GroupStatus.LIVE)
    PositionGroup.objects.filter(pk=group.pk).update(status=GroupStatus.CLOSED)  # another worker closed it

    with pytest.raises(StaleStatus):
        group_transition(group, to=GroupStatus.PARTIALLY_FILLED)

    assert PositionGroup.objects.get(pk=group.pk).status == "closed"


def test_order_fill_is_written_with_its_status():
    order = OrderFactory(status=OrderStatus.OPEN)

    order_transition(order, to=OrderStatus.FILLED, filled_quantity=order.quantity, avg_fill_price=order.price)

    stored = Order.objects.get(pk=order.pk)
    assert (stored.status, stored.filled_quantity, stored.avg_fill_price) == ("filled", stored.quantity, stored.price)


def test_failed_order_keeps_the_exchange_message():
    order = OrderFactory()

    order_transition(order, to=OrderStatus.FAILED, reason="Account has insufficient balance for requested action.")

    assert Order.objects.get(pk=order.pk).error_message == "Account has insufficient balance for requested action."


def test_filled_order_cannot_be_cancelled():
    order = OrderFactory(status=OrderStatus.FILLED, filled_quantity="2.000")

    with pytest.raises(IllegalTransition):
        order_transition(order, to=OrderStatus.CANCELLED)
    assert Order.objects.get(pk=order.pk).status == "filled"
