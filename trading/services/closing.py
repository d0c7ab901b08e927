"""The one close path: exit signals, reduce, reverse, and later take-profit, stop loss, risk and manual.

A full close cancels every resting entry and take-profit order (one already gone is fine), then
market-sells (long) or buys back (short) what is still held, and closes the group with its realised
PnL and a close record. A partial close (reduce, risk offset) market-closes only the quantity asked,
capped at what is held. Exchange calls happen outside transactions.
"""

import logging
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from exchanges.connector import Connector, ExchangeError
from exchanges.services.accounts import connector_for_account
from notifications.events import emit
from risk.models import RiskAction
from trading.grid import round_down, round_up
from trading.models import ExitReason, Order, OrderType, PositionGroup
from trading.selectors import orders_to_cancel
from trading.services.orders import (
    PlacementFailed, group_refresh_stats, held_quantity, order_cancel, order_place,
)
from trading.services.transitions import group_transition
from trading.states import GroupStatus, OrderStatus

logger = logging.getLogger(__name__)


def position_close_request(*, group: PositionGroup, reason: str) -> PositionGroup:
    """Mark a group ``closing`` (call inside a transaction; the caller enqueues ``close_position_task``)."""
    if group.status in (GroupStatus.CLOSING, GroupStatus.CLOSED, GroupStatus.FAILED):
        return group
    group_transition(group, to=GroupStatus.CLOSING, reason=f"closing: {ExitReason(reason).label}")
    PositionGroup.objects.filter(pk=group.pk).update(exit_reason=reason)
    group.exit_reason = reason
    return group


def position_close_enqueue(group_id, reason: str) -> None:
    """Start the close task (call after commit). A broker outage is survived: the group stays
    ``closing`` and the stalled-work sweep re-sends the close within a minute."""
    from trading.tasks import close_position_task

    try:
        close_position_task.delay(str(group_id), reason, None, [])
    except Exception:
        logger.exception("could not enqueue the close of group %s; the stalled-work sweep will re-send it", group_id)


def position_close(*, group_id, reason: str, quantity: Decimal | None = None, connector: Connector | None = None,
                   final_attempt: bool = True) -> PositionGroup:
    """Close the whole group (``quantity`` None) or market-close ``quantity`` of it. Safe to call twice.

    RetryableError propagates for the task to retry, unless ``final_attempt``: then the close is
    given up and the position handed back with the reason.
    """
    group = PositionGroup.objects.select_related("exchange_account").get(pk=group_id)
    if group.status in (GroupStatus.CLOSED, GroupStatus.FAILED):
        return group
    connector = connector or connector_for_account(group.exchange_account)
    if quantity is None:
        for order in orders_to_cancel(group):
            order_cancel(order, connector)
    else:
        # Take-profits hold the base asset on the exchange; free it, sell, then re-place them for
        # what is left (group_evaluate below).
        for order in orders_to_cancel(group).filter(role=Order.Role.TAKE_PROFIT):
            order_cancel(order, connector)
    group = group_refresh_stats(group_id=group.pk)
    held = held_quantity(group)
    step = connector.market(group.symbol).step_size
    to_close = round_down(held if quantity is None else min(quantity, held), step)
    if to_close > 0:
        try:
            _market_close(group, to_close, reason, connector, final_attempt=final_attempt)
        except PlacementFailed as exc:
            return _close_failed(group, str(exc))
    group = group_refresh_stats(group_id=group.pk)
    if held_quantity(group) < step:  # what is left is dust below the exchange's lot size
        return position_finish(group, reason)
    if quantity is None:
        logger.info("group %s: close order sent, waiting for its fill", group.pk)
        return group
    from trading.services.lifecycle import group_evaluate  # the lifecycle builds on this module

    return group_evaluate(group_id=group.pk, connector=connector)


def _market_close(group: PositionGroup, quantity: Decimal, reason: str, connector: Connector, *,
                  final_attempt: bool) -> Order:
    try:
        decision_price = connector.ticker(group.symbol).last
    except ExchangeError:
        decision_price = group.current_price
    exit_order = exit_order_for(group, quantity, reason, connector, decision_price=decision_price)
    return order_place(exit_order, connector, final_attempt=final_attempt)


def exit_order_for(group: PositionGroup, quantity: Decimal, reason: str, connector: Connector, *,
                   decision_price: Decimal | None, pyramid=None) -> Order:
    """The committed exit order to send: one left pending by a crashed attempt, or a new market order
    (a limit at the worst acceptable price with slippage_action "reject")."""
    pending = group.orders.filter(role=Order.Role.EXIT, status__in=[OrderStatus.PENDING, OrderStatus.UNKNOWN],
                                  exit_reason=reason, pyramid=pyramid).first()
    if pending is not None:
        return pending
    side = "sell" if group.side == "long" else "buy"
    protection = market_protection(group, side, decision_price, connector)
    return Order.objects.create(
        group=group, pyramid=pyramid, role=Order.Role.EXIT, symbol=group.symbol, side=side,
        order_type=OrderType.LIMIT if protection else OrderType.MARKET, price=protection, quantity=quantity,
        exit_reason=reason, decision_price=decision_price,
        slippage_outcome=Order.SlippageOutcome.PROTECTED if protection else "",
    )


def market_protection(group: PositionGroup, order_side: str, decision_price: Decimal | None,
                      connector: Connector) -> Decimal | None:
    """With slippage_action "reject", a market order goes out as a limit at the worst acceptable price
    (max_slippage_percent from the decision price), so it cannot fill worse; None sends a plain market order."""
    from trading.take_profit import protected_limit

    limit = group.config_snapshot.get("max_slippage_percent")
    if group.config_snapshot.get("slippage_action") != "reject" or limit in (None, "") or decision_price is None:
        return None
    tick = connector.market(group.symbol).tick_size
    price = protected_limit(order_side, decision_price, Decimal(limit))
    return round_down(price, tick) if order_side == "buy" else round_up(price, tick)


def _close_failed(group: PositionGroup, message: str) -> PositionGroup:
    """The exchange refused the close: hand the position back, with the reason, to be closed again."""
    logger.error("closing group %s failed: %s", group.pk, message)
    emit("failure", group=group, message=f"Close failed: {message}")
    group.refresh_from_db()
    if group.status == GroupStatus.CLOSING:
        filled = group.filled_dca_legs
        back = GroupStatus.ACTIVE if filled and filled >= group.total_dca_legs else GroupStatus.PARTIALLY_FILLED
        group_transition(group, to=back, reason=f"Close failed: {message}")
    else:
        PositionGroup.objects.filter(pk=group.pk).update(status_reason=f"Close failed: {message}")
    return group


def position_finish(group: PositionGroup, reason: str) -> PositionGroup:
    """Held quantity is zero: the group is closed, with a close record a trader can audit."""
    with transaction.atomic():
        group = PositionGroup.objects.select_for_update().get(pk=group.pk)
        if group.status == GroupStatus.CLOSED:
            return group
        if group.status != GroupStatus.CLOSING:
            group_transition(group, to=GroupStatus.CLOSING, reason=f"closing: {ExitReason(reason).label}")
        group_transition(group, to=GroupStatus.CLOSED, reason=f"closed: {ExitReason(reason).label}")
        PositionGroup.objects.filter(pk=group.pk).update(exit_reason=reason, unrealized_pnl_usd=0, unrealized_pnl_percent=0)
        exits = group.orders.filter(role__in=[Order.Role.EXIT, Order.Role.TAKE_PROFIT], filled_quantity__gt=0)
        closed_quantity = sum((o.filled_quantity for o in exits), Decimal(0))
        exit_value = sum((o.filled_quantity * (o.avg_fill_price or 0) for o in exits), Decimal(0))
        invested = (group.weighted_avg_entry or 0) * closed_quantity
        RiskAction.objects.create(
            user=group.user, action_type=RiskAction.ActionType.CLOSE, group=group, exit_reason=reason,
            entry_price=group.weighted_avg_entry, exit_price=exit_value / closed_quantity if closed_quantity else None,
            quantity_closed=closed_quantity, realized_pnl_usd=group.realized_pnl_usd,
            pnl_percent=group.realized_pnl_usd / invested * 100 if invested else None,
            duration_seconds=int((timezone.now() - group.created_at).total_seconds()),
            notes=f"{group.side} {group.symbol} {group.timeframe}m closed ({ExitReason(reason).label})",
        )
        transaction.on_commit(lambda: _promote_after_close(group.user_id))
        emit("exit", group=group, reason=reason)
    logger.info("group %s closed (%s), realised %s USD", group.pk, reason, group.realized_pnl_usd)
    return group


def _promote_after_close(user_id) -> None:
    """A slot just freed: let the user's queue move now rather than at the next beat."""
    from trading.tasks import promote_queue_task

    try:
        promote_queue_task.delay(str(user_id))
    except Exception:  # the beat schedule promotes anyway; a broker hiccup must not fail a close
        logger.warning("could not enqueue queue promotion for user %s", user_id, exc_info=True)
