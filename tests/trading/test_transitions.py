"""Status changes go through one function each, which refuses illegal moves and logs every move."""

import logging

import pytest

from tests.factories import OrderFactory, PositionGroupFactory, PyramidFactory
from trading.models import Order, PositionGroup, Pyramid
from trading.services.transitions import (
    StaleStatus,
    group_transition,
    order_transition,
    pyramids_move,
    queued_signals_move,
    signal_transition,
    signals_move,
)
from trading.states import (
    GroupStatus,
    IllegalTransition,
    OrderStatus,
    PyramidStatus,
    QueuedSignalStatus,
    SignalStatus,
)

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


def test_a_closing_pyramid_gets_its_closed_at_and_a_handed_back_one_loses_it():
    pyramid = PyramidFactory(status=PyramidStatus.FILLED)

    assert pyramids_move(Pyramid.objects.filter(pk=pyramid.pk), to=PyramidStatus.CLOSED) == 1
    pyramid.refresh_from_db()
    assert pyramid.status == "closed" and pyramid.closed_at is not None

    pyramids_move(Pyramid.objects.filter(pk=pyramid.pk), sources=[PyramidStatus.CLOSED], to=PyramidStatus.FILLED)
    pyramid.refresh_from_db()
    assert pyramid.status == "filled" and pyramid.closed_at is None


def test_a_bulk_move_leaves_rows_a_racing_writer_already_moved_elsewhere():
    group = PositionGroupFactory()
    filling = PyramidFactory(group=group, index=0, status=PyramidStatus.PARTIALLY_FILLED)
    failed = PyramidFactory(group=group, index=1, status=PyramidStatus.FAILED)

    assert pyramids_move(group.pyramids.all(), to=PyramidStatus.CLOSED) == 1

    assert Pyramid.objects.get(pk=filling.pk).status == "closed"
    assert Pyramid.objects.get(pk=failed.pk).status == "failed"


def test_a_bulk_move_from_a_status_the_table_forbids_raises_before_writing():
    pyramid = PyramidFactory(status=PyramidStatus.FAILED)

    with pytest.raises(IllegalTransition):
        pyramids_move(Pyramid.objects.all(), sources=[PyramidStatus.FAILED], to=PyramidStatus.SUBMITTED)

    assert Pyramid.objects.get(pk=pyramid.pk).status == "failed"


def test_signal_and_queue_entry_moves_write_their_reason():
    from tests.factories import UserFactory
    from trading.models import QueuedSignal, Signal

    signal = Signal.objects.create(
        user=UserFactory(),
        status=SignalStatus.RECEIVED,
        exchange="binance",
        symbol="BTC/USDT",
        timeframe=60,
        side="long",
        entry_price=100,
    )
    signal_transition(signal, to=SignalStatus.QUEUED, reason="Queued: all slots in use.")
    entry = QueuedSignal.objects.create(
        user=signal.user,
        signal=signal,
        exchange="binance",
        symbol="BTC/USDT",
        timeframe=60,
        side="long",
        entry_price=100,
        expires_at=signal.received_at,
    )

    queued_signals_move(QueuedSignal.objects.filter(pk=entry.pk), to=QueuedSignalStatus.EXPIRED, reason="expired")
    signals_move(
        Signal.objects.filter(pk=signal.pk), sources=[SignalStatus.QUEUED], to=SignalStatus.IGNORED, reason="expired"
    )

    entry.refresh_from_db()
    signal.refresh_from_db()
    assert (entry.status, entry.status_reason, entry.resolved_at is not None) == ("expired", "expired", True)
    assert (signal.status, signal.reason) == ("ignored", "expired")
    with pytest.raises(IllegalTransition):
        signal_transition(signal, to=SignalStatus.OPENED, reason="too late")
