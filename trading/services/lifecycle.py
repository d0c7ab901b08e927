"""After every sync: what the position must do next.

``group_evaluate`` runs for each group whose orders or price were just synced. In order: fire
market entries whose price came; place the per-leg take-profit of every entry leg that is done;
close what the stop loss, the aggregate target or a pyramid's own target says to close; close the
group when a take-profit sold the last of it. Everything is re-read under locks, and every step is
safe to repeat: a leg never gets a second take-profit, a close never runs twice.
"""

import logging
import uuid
from decimal import Decimal

from django.db import transaction

from exchanges.connector import Connector, ExchangeError
from exchanges.services.accounts import connector_for_account
from notifications.events import emit
from trading.grid import round_down, take_profit_price
from trading.models import ExitReason, Order, OrderType, PositionGroup, Pyramid, client_order_id_for
from trading.services.closing import (
    exit_order_for, market_protection, position_close, position_close_request, position_finish,
)
from trading.services.orders import (
    PlacementFailed, base_asset, fill_events, group_refresh_stats, order_cancel, order_place,
)
from trading.services.transitions import StaleStatus, order_transition
from trading.states import GroupStatus, OrderStatus
from trading.stats import replay
from trading.take_profit import (
    PyramidHolding, position_exit_trigger, pyramids_to_close, trigger_fires,
)

logger = logging.getLogger(__name__)

TRADING = (GroupStatus.LIVE, GroupStatus.PARTIALLY_FILLED, GroupStatus.ACTIVE)
ENTRY_LIVE = [OrderStatus.PENDING, OrderStatus.TRIGGER_PENDING, OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED,
              OrderStatus.UNKNOWN]


def group_evaluate(*, group_id, connector: Connector | None = None) -> PositionGroup:
    group = PositionGroup.objects.select_related("exchange_account").get(pk=group_id)
    if group.status not in TRADING:
        return group
    connector = connector or connector_for_account(group.exchange_account)
    _fire_market_entries(group, connector)
    if group.tp_mode in ("per_leg", "hybrid"):
        _place_leg_take_profits(group, connector)
    group = group_refresh_stats(group_id=group.pk)
    emit("pnl", group=group)
    if _close_if_triggered(group, connector):
        return PositionGroup.objects.get(pk=group.pk)
    if group.tp_mode == "pyramid_aggregate":
        _close_pyramids_at_target(group, connector)
    return _close_if_taken_profit(group, connector)


def _snapshot_decimal(group: PositionGroup, name: str) -> Decimal | None:
    value = group.config_snapshot.get(name)
    return Decimal(value) if value not in (None, "") else None


# --- Market entries waiting for their price ----------------------------------------------------


def _fire_market_entries(group: PositionGroup, connector: Connector) -> None:
    price = group.current_price
    if price is None:
        return
    for leg in group.orders.filter(role=Order.Role.ENTRY, status=OrderStatus.TRIGGER_PENDING):
        if not trigger_fires(leg.side, price, leg.price):
            continue
        fields = {"decision_price": price}
        protection = market_protection(group, leg.side, price, connector)
        if protection is not None:
            fields.update(order_type=OrderType.LIMIT, price=protection, slippage_outcome=Order.SlippageOutcome.PROTECTED)
        try:
            order_transition(leg, to=OrderStatus.PENDING, reason=f"price {price} reached the trigger {leg.price}", **fields)
        except StaleStatus:
            continue
        try:
            order_place(leg, connector)
        except PlacementFailed as exc:
            logger.warning("market entry of group %s refused: %s", group.pk, exc)


# --- Per-leg take-profits -----------------------------------------------------------------------


TP_HOLDING = [OrderStatus.PENDING, OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED, OrderStatus.UNKNOWN, OrderStatus.FILLED]


def _place_leg_take_profits(group: PositionGroup, connector: Connector) -> None:
    """Each entry leg that is done gets a limit take-profit for what it still holds.

    A leg whose take-profit was cancelled (a reduce or a risk offset sold part of the position) gets
    a new one for what remains, within what the group still holds and no live take-profit covers,
    so take-profits never add up to more than the position.
    """
    done = list(
        group.orders.filter(role=Order.Role.ENTRY, filled_quantity__gt=0, tp_percent__gt=0,
                            status__in=[OrderStatus.FILLED, OrderStatus.CANCELLED])
        .exclude(take_profits__status__in=TP_HOLDING).exclude(take_profits__status=OrderStatus.FAILED)
        .select_related("pyramid").order_by("pyramid__index", "leg_index")
    )
    if not done:
        return
    group = group_refresh_stats(group_id=group.pk)
    market = connector.market(group.symbol)
    base = base_asset(group.symbol)
    from_planned = bool(group.config_snapshot.get("tp_from_planned_price"))
    covered = sum(
        (tp.quantity - tp.filled_quantity for tp in group.orders.filter(
            role=Order.Role.TAKE_PROFIT, status__in=[OrderStatus.PENDING, OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED,
                                                     OrderStatus.UNKNOWN])),
        Decimal(0),
    )
    budget = group.total_filled_quantity - covered
    for leg in done:
        sold = sum((tp.filled_quantity for tp in leg.take_profits.all()), Decimal(0))
        held = leg.filled_quantity - (leg.fee if leg.fee_currency == base else 0) - sold
        quantity = round_down(min(held, budget), market.step_size)
        basis = leg.price if from_planned or leg.avg_fill_price is None else leg.avg_fill_price
        price = take_profit_price(group.side, basis, leg.tp_percent, market.tick_size)
        if quantity <= 0 or quantity < market.min_qty or quantity * price < market.min_notional:
            logger.info("leg %s of group %s: take-profit of %s at %s is under the exchange minimum; not placed",
                        leg.leg_index, group.pk, quantity, price)
            continue
        with transaction.atomic():
            locked = Order.objects.select_for_update().get(pk=leg.pk)
            if locked.take_profits.filter(status__in=TP_HOLDING).exists():
                continue  # another worker placed it a moment ago
            order_id = uuid.uuid4()
            take_profit = Order.objects.create(
                id=order_id, client_order_id=client_order_id_for(order_id), group=group, pyramid=leg.pyramid,
                role=Order.Role.TAKE_PROFIT, entry_order=leg, symbol=group.symbol,
                side="sell" if group.side == "long" else "buy", order_type=OrderType.LIMIT, price=price,
                quantity=quantity, tp_percent=leg.tp_percent, exit_reason=ExitReason.TAKE_PROFIT,
            )
        budget -= quantity
        try:
            order_place(take_profit, connector, refresh_stats=False)  # group_evaluate refreshes after placing
        except PlacementFailed as exc:
            logger.warning("take-profit for leg %s of group %s refused: %s", leg.leg_index, group.pk, exc)


def _close_if_taken_profit(group: PositionGroup, connector: Connector) -> PositionGroup:
    """Take-profits sold everything and no entry leg can fill any more: the group is done."""
    group.refresh_from_db()
    if group.status not in TRADING or group.filled_dca_legs == 0:
        return group
    if group.orders.filter(role=Order.Role.ENTRY, status__in=ENTRY_LIVE).exists():
        return group
    step = connector.market(group.symbol).step_size
    if group.total_filled_quantity >= step:
        return group
    if group.orders.filter(role=Order.Role.TAKE_PROFIT, status__in=[OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED]).exists():
        return group
    return position_finish(group, ExitReason.TAKE_PROFIT)


# --- Whole-position exits --------------------------------------------------------------------


def _close_if_triggered(group: PositionGroup, connector: Connector) -> bool:
    trigger = position_exit_trigger(
        side=group.side, tp_mode=group.tp_mode, price=group.current_price, average=group.weighted_avg_entry,
        held=group.total_filled_quantity, tp_aggregate_percent=group.tp_aggregate_percent,
        stop_loss_percent=_snapshot_decimal(group, "stop_loss_percent"), stop_loss_price=group.stop_loss_price,
    )
    if trigger is None:
        return False
    with transaction.atomic():
        locked = PositionGroup.objects.select_for_update().get(pk=group.pk)
        if locked.status not in TRADING:
            return True
        position_close_request(group=locked, reason=trigger.reason)
    logger.info("group %s: %s at %s (trigger %s)", group.pk, trigger.reason, group.current_price, trigger.trigger_price)
    position_close(group_id=group.pk, reason=trigger.reason, connector=connector)
    return True


# --- pyramid_aggregate ------------------------------------------------------------------------


def _pyramid_holdings(group: PositionGroup) -> list[tuple[Pyramid, PyramidHolding]]:
    default = group.tp_aggregate_percent
    holdings = []
    for pyramid in group.pyramids.exclude(status__in=[Pyramid.Status.CLOSED, Pyramid.Status.FAILED]):
        stats = replay(group.side, fill_events(pyramid.orders, group.symbol))
        percent = pyramid.tp_percent if pyramid.tp_percent is not None else default
        holdings.append((pyramid, PyramidHolding(pyramid.index, stats.weighted_avg_entry, stats.held_quantity, percent)))
    return holdings


def _close_pyramids_at_target(group: PositionGroup, connector: Connector) -> None:
    holdings = _pyramid_holdings(group)
    due = set(pyramids_to_close(group.side, group.current_price, [h for _, h in holdings]))
    for pyramid, holding in holdings:
        if holding.index in due:
            pyramid_close(group=group, pyramid=pyramid, held=holding.held, connector=connector)


def pyramid_close(*, group: PositionGroup, pyramid: Pyramid, held: Decimal, connector: Connector) -> None:
    """Close one pyramid: cancel its resting legs, market-close what it holds, mark it closed."""
    still_open = Pyramid.objects.filter(pk=pyramid.pk).exclude(
        status__in=[Pyramid.Status.CLOSED, Pyramid.Status.FAILED]
    ).exists()
    if not still_open:
        return
    for order in pyramid.orders.filter(status__in=ENTRY_LIVE).exclude(role=Order.Role.EXIT):
        order_cancel(order, connector)
    quantity = round_down(held, connector.market(group.symbol).step_size)
    if quantity > 0:
        exit_order = exit_order_for(group, quantity, ExitReason.PYRAMID_TP, connector,
                                    decision_price=group.current_price, pyramid=pyramid)
        try:
            order_place(exit_order, connector)
        except (PlacementFailed, ExchangeError) as exc:
            logger.warning("closing pyramid %s of group %s failed: %s", pyramid.index, group.pk, exc)
            return
    Pyramid.objects.filter(pk=pyramid.pk).update(status=Pyramid.Status.CLOSED)
    group_refresh_stats(group_id=group.pk)
    logger.info("group %s: pyramid %s closed at its target", group.pk, pyramid.index + 1)
    group.refresh_from_db()
    if group.total_filled_quantity < connector.market(group.symbol).step_size and not group.orders.filter(
        role=Order.Role.ENTRY, status__in=ENTRY_LIVE
    ).exists():
        position_finish(group, ExitReason.PYRAMID_TP)
