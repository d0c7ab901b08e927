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
from typing import Any

from django.db import transaction

from core.events import emit
from exchanges.connector import Connector
from exchanges.services.accounts import connector_for_account
from trading.grid import sellable, take_profit_price
from trading.locks import lock_group
from trading.models import (
    ExitReason,
    Order,
    OrderSide,
    OrderType,
    PositionGroup,
    Pyramid,
    Side,
    TakeProfitMode,
    client_order_id_for,
)
from trading.services.budget import sell_budget
from trading.services.closing import (
    exit_order_create,
    market_protection,
    position_close,
    position_close_request,
    position_finish_if_done,
)
from trading.services.fills import base_asset, fill_events, group_refresh_stats, held_quantity
from trading.services.orders import PlacementFailed, order_cancel, order_place
from trading.services.transitions import StaleStatus, order_transition, pyramids_move
from trading.states import (
    GROUP_TRADING_STATUSES,
    ORDER_ENDED_STATUSES,
    ORDER_MAY_STILL_FILL,
    ORDER_TAKE_PROFIT_HOLDING,
    PYRAMID_ENDED_STATUSES,
    GroupStatus,
    OrderStatus,
    PyramidStatus,
)
from trading.stats import replay
from trading.take_profit import (
    PyramidHolding,
    position_exit_trigger,
    pyramids_to_close,
    trigger_fires,
)

logger = logging.getLogger(__name__)

TRADING = GROUP_TRADING_STATUSES


def group_evaluate(*, group_id, connector: Connector | None = None) -> PositionGroup:
    group = PositionGroup.objects.select_related("exchange_account").get(pk=group_id)
    if group.status == GroupStatus.CLOSING:
        # A close's fill found by the fill sync finishes the group in the same cycle, with fresh figures.
        group = group_refresh_stats(group_id=group.pk)
        return position_finish_if_done(
            group, group.exit_reason or ExitReason.MANUAL, connector or connector_for_account(group.exchange_account)
        )
    if group.status not in TRADING:
        return group
    connector = connector or connector_for_account(group.exchange_account)
    _fire_market_entries(group, connector)
    if group.tp_mode in (TakeProfitMode.PER_LEG, TakeProfitMode.HYBRID):
        _place_leg_take_profits(group, connector)
    group = group_refresh_stats(group_id=group.pk)
    emit("pnl", group=group)
    if _close_if_triggered(group, connector):
        return PositionGroup.objects.get(pk=group.pk)
    if group.tp_mode == TakeProfitMode.PYRAMID_AGGREGATE:
        _close_pyramids_at_target(group, connector)
    return _close_if_taken_profit(group, connector)


def position_reduce(
    *,
    group_id,
    reason: str,
    quantity: Decimal,
    request_key: str | None,
    connector: Connector | None = None,
    final_attempt: bool = True,
) -> PositionGroup:
    """Market-close ``quantity`` of the group (a reduce alert, a loss offset's winner), once per
    ``request_key``; then re-place the take-profits for what it still holds."""
    group = PositionGroup.objects.select_related("exchange_account").get(pk=group_id)
    connector = connector or connector_for_account(group.exchange_account)
    position_close(
        group_id=group_id,
        reason=reason,
        quantity=quantity,
        request_key=request_key,
        connector=connector,
        final_attempt=final_attempt,
    )
    return group_evaluate(group_id=group_id, connector=connector)


def _snapshot_decimal(group: PositionGroup, name: str) -> Decimal | None:
    value = group.config_snapshot.get(name)
    return Decimal(value) if value not in (None, "") else None


# --- Market entries waiting for their price ----------------------------------------------------


def _fire_market_entries(group: PositionGroup, connector: Connector) -> None:
    price = group.current_price
    if price is None:
        return
    for leg in group.orders.filter(role=Order.Role.ENTRY, status=OrderStatus.TRIGGER_PENDING):
        assert leg.price is not None  # a market leg waits with its trigger price (position_open)
        if not trigger_fires(leg.side, price, leg.price):
            continue
        fields: dict[str, Any] = {"decision_price": price}
        protection = market_protection(group, leg.side, price, connector)
        if protection is not None:
            fields.update(
                order_type=OrderType.LIMIT, price=protection, slippage_outcome=Order.SlippageOutcome.PROTECTED
            )
        try:
            order_transition(
                leg, to=OrderStatus.PENDING, reason=f"price {price} reached the trigger {leg.price}", **fields
            )
        except StaleStatus:
            continue
        try:
            order_place(leg, connector)
        except PlacementFailed as exc:
            logger.warning("market entry of group %s refused: %s", group.pk, exc)


# --- Per-leg take-profits -----------------------------------------------------------------------


def _place_leg_take_profits(group: PositionGroup, connector: Connector) -> None:
    """Each entry leg that is done gets a limit take-profit for what it still holds.

    Decided under the group's lock from the sell budget (``trading.services.budget``): take-profits
    and live exits together never ask for more than the group holds, however many evaluations race.
    A leg whose take-profit was cancelled (a reduce or a risk offset sold part of the position) gets
    a new one for what remains. The group's last take-profit — no entry leg can fill any more and no
    other leg waits for one — sells everything sellable, so the sub-step remainders of the legs are
    not stranded; what is still under the market's minimums is dust, closed with the group.
    """
    if not _legs_awaiting_take_profit(group).exists():
        return
    group = group_refresh_stats(group_id=group.pk)
    market = connector.market(group.symbol)
    base = base_asset(group.symbol)
    from_planned = bool(group.config_snapshot.get("tp_from_planned_price"))
    placing = []
    with transaction.atomic():
        locked = lock_group(group.pk, with_account=True)
        if locked.status not in TRADING:
            return
        done = list(
            _legs_awaiting_take_profit(locked).select_related("pyramid").order_by("pyramid__index", "leg_index")
        )
        budget = sell_budget(locked)
        entries_live = locked.orders.filter(role=Order.Role.ENTRY, status__in=ORDER_MAY_STILL_FILL).exists()
        for position, leg in enumerate(done):
            sold = sum((tp.filled_quantity for tp in leg.take_profits.all()), Decimal(0))
            leg_held = leg.filled_quantity - (leg.fee if leg.fee_currency == base else 0) - sold
            last = not entries_live and position == len(done) - 1
            basis = leg.price if from_planned or leg.avg_fill_price is None else leg.avg_fill_price
            price = take_profit_price(group.side, basis, leg.tp_percent, market.tick_size)
            quantity = sellable(
                budget if last else min(leg_held, budget),
                price=price,
                step=market.step_size,
                min_qty=market.min_qty,
                min_notional=market.min_notional,
            )
            if not quantity:
                logger.info(
                    "leg %s of group %s: take-profit at %s is under the exchange minimum (or nothing is "
                    "left to sell); not placed",
                    leg.leg_index,
                    group.pk,
                    price,
                )
                continue
            order_id = uuid.uuid4()
            placing.append(
                Order.objects.create(
                    id=order_id,
                    client_order_id=client_order_id_for(order_id),
                    group=locked,
                    pyramid=leg.pyramid,
                    role=Order.Role.TAKE_PROFIT,
                    entry_order=leg,
                    symbol=group.symbol,
                    side=OrderSide.SELL if group.side == Side.LONG else OrderSide.BUY,
                    order_type=OrderType.LIMIT,
                    price=price,
                    quantity=quantity,
                    tp_percent=leg.tp_percent,
                    exit_reason=ExitReason.TAKE_PROFIT,
                )
            )
            budget -= quantity
    for take_profit in placing:
        try:
            order_place(take_profit, connector, refresh_stats=False)  # group_evaluate refreshes after placing
        except PlacementFailed as exc:
            logger.warning("take-profit %s of group %s refused: %s", take_profit.client_order_id, group.pk, exc)


def _legs_awaiting_take_profit(group: PositionGroup):
    """Entry legs done filling (filled, or cancelled with a fill) with no take-profit holding their coins."""
    return (
        group.orders.filter(
            role=Order.Role.ENTRY, filled_quantity__gt=0, tp_percent__gt=0, status__in=ORDER_ENDED_STATUSES
        )
        .exclude(take_profits__status__in=ORDER_TAKE_PROFIT_HOLDING)
        .exclude(take_profits__status=OrderStatus.FAILED)
    )


def _close_if_taken_profit(group: PositionGroup, connector: Connector) -> PositionGroup:
    """Take-profits sold everything sellable and no entry leg can fill any more: the group is done
    (what is left under the market's minimums is recorded as dust)."""
    group.refresh_from_db()
    if group.status not in TRADING or group.filled_dca_legs == 0:
        return group
    return position_finish_if_done(group, ExitReason.TAKE_PROFIT, connector)


# --- Whole-position exits --------------------------------------------------------------------


def _close_if_triggered(group: PositionGroup, connector: Connector) -> bool:
    trigger = position_exit_trigger(
        side=group.side,
        tp_mode=group.tp_mode,
        price=group.current_price,
        average=group.weighted_avg_entry,
        held=group.total_filled_quantity,
        tp_aggregate_percent=group.tp_aggregate_percent,
        stop_loss_percent=_snapshot_decimal(group, "stop_loss_percent"),
        stop_loss_price=group.stop_loss_price,
    )
    if trigger is None:
        return False
    with transaction.atomic():
        locked = lock_group(group.pk)
        if locked.status not in TRADING:
            return True
        position_close_request(group=locked, reason=trigger.reason)
    logger.info("group %s: %s at %s (trigger %s)", group.pk, trigger.reason, group.current_price, trigger.trigger_price)
    position_close(group_id=group.pk, reason=trigger.reason, connector=connector)
    return True


# --- pyramid_aggregate ------------------------------------------------------------------------


def _pyramid_holdings(group: PositionGroup) -> list[tuple[Pyramid, PyramidHolding]]:
    """Each open pyramid's average and its share of what the group still holds.

    A pyramid's own fills give its average and what it bought; group-level exits (reduce, risk
    offset) sold from every pyramid, so when the pyramids' own holdings add up to more than the group
    holds, each gets its proportional share of the group's holding.
    """
    default = group.tp_aggregate_percent
    rows = []
    for pyramid in group.pyramids.exclude(status__in=PYRAMID_ENDED_STATUSES):
        stats = replay(group.side, fill_events(pyramid.orders, group.symbol))
        percent = pyramid.tp_percent if pyramid.tp_percent is not None else default
        rows.append((pyramid, stats, percent))
    own_total = sum((stats.held_quantity for _, stats, _ in rows), Decimal(0))
    group_held = held_quantity(group)

    def share(own: Decimal) -> Decimal:  # multiplied first: 3.0 × 1.0 / 3.0 is 1.0, not 0.999…
        return own * group_held / own_total if own_total > group_held else own

    return [
        (pyramid, PyramidHolding(pyramid.index, stats.weighted_avg_entry, share(stats.held_quantity), percent))
        for pyramid, stats, percent in rows
    ]


def _close_pyramids_at_target(group: PositionGroup, connector: Connector) -> None:
    holdings = _pyramid_holdings(group)
    due = set(pyramids_to_close(group.side, group.current_price, [h for _, h in holdings]))
    for pyramid, holding in holdings:
        if holding.index in due:
            pyramid_close(group=group, pyramid=pyramid, held=holding.held, connector=connector)


def pyramid_close(*, group: PositionGroup, pyramid: Pyramid, held: Decimal, connector: Connector) -> None:
    """Close one pyramid: cancel its resting legs, market-close its share of the holding, mark it closed.

    The decision is taken under the group's lock and the pyramid is marked closed in it, so a second
    evaluation racing this one (the price task and the fill sync) finds it closed and sells nothing.
    """
    for order in pyramid.orders.filter(role=Order.Role.ENTRY, status__in=ORDER_MAY_STILL_FILL):
        order_cancel(order, connector)
    market = connector.market(group.symbol)
    with transaction.atomic():
        locked = lock_group(group.pk, with_account=True)
        if (
            locked.status not in TRADING
            or not Pyramid.objects.filter(pk=pyramid.pk).exclude(status__in=PYRAMID_ENDED_STATUSES).exists()
        ):
            return
        quantity = sellable(
            min(held, sell_budget(locked)),
            price=locked.current_price,
            step=market.step_size,
            min_qty=market.min_qty,
            min_notional=market.min_notional,
        )
        exit_order = (
            exit_order_create(
                locked, quantity, ExitReason.PYRAMID_TP, connector, decision_price=locked.current_price, pyramid=pyramid
            )
            if quantity
            else None
        )
        pyramids_move(Pyramid.objects.filter(pk=pyramid.pk), to=PyramidStatus.CLOSED)
    if exit_order is not None:
        try:
            order_place(exit_order, connector)
        except PlacementFailed as exc:
            # Refused for good: the pyramid holds its coins again, and its target may fire again.
            pyramids_move(
                Pyramid.objects.filter(pk=pyramid.pk), sources=[PyramidStatus.CLOSED], to=PyramidStatus.FILLED
            )
            logger.warning("closing pyramid %s of group %s failed: %s", pyramid.index, group.pk, exc)
            return
    group_refresh_stats(group_id=group.pk)
    logger.info("group %s: pyramid %s closed at its target", group.pk, pyramid.index + 1)
    position_finish_if_done(group, ExitReason.PYRAMID_TP, connector)
