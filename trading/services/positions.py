"""Opening a position and adding a pyramid to it (the rows routing decided on), then placing the
pyramid's grid on the exchange. A reverse's grid waits for the opposite side's close to fill.
"""

import logging
import uuid
from decimal import Decimal

from django.db.models import Q

from core.events import emit
from exchanges.connector import Connector, PermanentError
from exchanges.services.accounts import connector_for_account
from exchanges.services.derivatives import settings_apply
from trading import journal
from trading.alerts import Alert
from trading.liquidation import LeverageChoice
from trading.models import (
    DCAConfiguration,
    Order,
    OrderSide,
    OrderType,
    PositionGroup,
    Pyramid,
    Side,
    Signal,
    client_order_id_for,
)
from trading.selectors import groups_on_symbol
from trading.services import dispatch
from trading.services.fills import group_refresh_stats, held_quantity
from trading.services.orders import PlacementFailed, exchange_text, order_cancel, order_place
from trading.services.transitions import group_transition, pyramids_move, signals_move
from trading.states import (
    GROUP_NOT_CLOSABLE_STATUSES,
    ORDER_ON_EXCHANGE_STATUSES,
    ORDER_TERMINAL_STATUSES,
    ORDER_UNSENT_STATUSES,
    GroupStatus,
    OrderStatus,
    PyramidStatus,
    SignalStatus,
)

logger = logging.getLogger(__name__)


def position_open(
    *,
    signal: Signal,
    account_id,
    exchange: str,
    symbol: str,
    alert: Alert,
    config: DCAConfiguration,
    levels,
    capital_usd: Decimal,
    quote_usd_rate: Decimal,
    legs,
    sizing: str,
    market_type: str = "spot",
    position_mode: str = "",
    leverage: LeverageChoice | None = None,
) -> tuple[PositionGroup, Pyramid]:
    """A new position group with its first pyramid's legs (``pending``), as routing decided (call inside
    its transaction; the grid is placed by ``pyramid_submit`` after commit). ``sizing`` says where the
    pyramid's size came from (``trading.sizing``). ``market_type`` swap (a perpetual on a swap account) and
    the account's ``position_mode`` are recorded in the snapshot with the leverage and margin mode: every
    order of the group is sent with the flags they call for (``trading.services.orders.derivatives_flags``).
    ``leverage``: the configured leverage as capped by the exchange's tiers for the grid (routing's choice);
    the configured one when not given."""
    assert signal.user is not None  # a routed signal is an accepted one, stored with its user (signal_accept)
    group = PositionGroup.objects.create(
        user=signal.user,
        exchange_account_id=account_id,
        exchange=exchange,
        symbol=symbol,
        timeframe=alert.timeframe,
        side=alert.side,
        dca_config=config,
        config_snapshot=_snapshot(
            config, alert, market_type=market_type, position_mode=position_mode, leverage=leverage
        ),
        max_pyramids=config.max_pyramids,
        base_entry_price=alert.entry_price,
        tp_mode=config.tp_mode,
        tp_aggregate_percent=config.tp_aggregate_percent,
        stop_loss_price=alert.stop_loss,
        pyramid_count=1,
        total_dca_legs=len(legs),
        quote_usd_rate=quote_usd_rate,
    )
    pyramid = _pyramid_create(group, 0, signal, alert, levels, capital_usd, legs, sizing)
    emit("entry", group=group)
    Signal.objects.filter(pk=signal.pk).update(position_group=group)
    return group, pyramid


def pyramid_add(
    *, group: PositionGroup, signal: Signal, alert: Alert, levels, capital_usd: Decimal, legs, sizing: str
) -> Pyramid:
    """The group's next pyramid with its legs (``pending``); a running risk timer starts over (call inside
    routing's transaction)."""
    index = group.pyramid_count
    pyramid = _pyramid_create(group, index, signal, alert, levels, capital_usd, legs, sizing)
    emit("pyramid", group=group, pyramid_index=index)
    if group.risk_timer_start is not None:
        journal.timer_reset(group, pyramid_added=index + 1)
    PositionGroup.objects.filter(pk=group.pk).update(
        pyramid_count=index + 1,
        total_dca_legs=group.total_dca_legs + len(legs),
        risk_timer_start=None,
        risk_timer_expires=None,
        risk_eligible=False,
    )
    if group.status == GroupStatus.ACTIVE:
        group_transition(group, to=GroupStatus.PARTIALLY_FILLED, reason=f"pyramid {index + 1} added")
    Signal.objects.filter(pk=signal.pk).update(position_group=group)
    return pyramid


def _snapshot(
    config: DCAConfiguration,
    alert: Alert,
    *,
    market_type: str = "spot",
    position_mode: str = "",
    leverage: LeverageChoice | None = None,
) -> dict:
    """The configuration a group keeps; the alert's own ``risk.max_slippage_percent`` wins over the config's.
    A swap group keeps what it trades with for life (a later edit of the configuration or of the exchange's
    mode does not change an open group's orders): market type, leverage, margin mode, position mode. Its
    ``leverage`` is the one set on the exchange (the configured one capped by the exchange's tier for the grid's
    full notional); ``configured_leverage`` the configuration's, ``leverage_note`` why they differ, or that
    the tiers could not be read ("" when neither)."""
    slippage = alert.max_slippage_percent if alert.max_slippage_percent is not None else config.max_slippage_percent
    derivatives = (
        {
            "market_type": "swap",
            "leverage": leverage.leverage if leverage is not None else config.leverage,
            "configured_leverage": config.leverage,
            "leverage_note": leverage.note if leverage is not None else "",
            "margin_mode": config.margin_mode,
            "position_mode": position_mode,
        }
        if market_type == "swap"
        else {}  # a spot group's snapshot is what it always was; no market_type reads as spot
    )
    return {
        **derivatives,
        "levels": config.levels,
        "pyramid_levels": config.pyramid_levels,
        "tp_mode": config.tp_mode,
        "tp_aggregate_percent": str(config.tp_aggregate_percent),
        "pyramid_tp_percents": config.pyramid_tp_percents,
        "max_pyramids": config.max_pyramids,
        "entry_order_type": config.entry_order_type,
        "capital_usd": str(config.capital_usd),
        "use_signal_size": config.use_signal_size,
        "stop_loss_percent": str(config.stop_loss_percent) if config.stop_loss_percent is not None else None,
        "max_slippage_percent": str(slippage) if slippage is not None else None,
        "slippage_action": config.slippage_action,
        "tp_from_planned_price": config.tp_from_planned_price,
    }


def _pyramid_create(group, index, signal, alert: Alert, levels, capital_usd: Decimal, legs, sizing: str) -> Pyramid:
    snapshot = group.config_snapshot
    tp_percents = snapshot.get("pyramid_tp_percents") or {}
    tp_percent = tp_percents.get(str(index))
    pyramid = Pyramid.objects.create(
        group=group,
        index=index,
        entry_price=alert.entry_price,
        levels=[level.as_json() for level in levels],
        capital_usd=capital_usd,
        sizing=sizing,
        signal=signal,
        tp_percent=Decimal(tp_percent) if tp_percent is not None else None,
    )
    side = OrderSide.BUY if group.side == Side.LONG else OrderSide.SELL
    market_first = snapshot.get("entry_order_type") == OrderType.MARKET
    Order.objects.bulk_create(
        [
            Order(
                id=order_id,
                client_order_id=client_order_id_for(order_id),
                group=group,
                pyramid=pyramid,
                role=Order.Role.ENTRY,
                leg_index=leg.leg_index,
                symbol=group.symbol,
                side=side,
                order_type=OrderType.MARKET if market_first and leg.leg_index == 0 else OrderType.LIMIT,
                status=OrderStatus.TRIGGER_PENDING if market_first and leg.leg_index == 0 else OrderStatus.PENDING,
                price=leg.price,
                quantity=leg.quantity,
                gap_percent=leg.gap_percent,
                weight_percent=leg.weight_percent,
                tp_percent=leg.tp_percent,
                tp_price=leg.tp_price,
            )
            for leg, order_id in ((leg, uuid.uuid4()) for leg in legs)
        ]
    )
    return pyramid


def pyramid_submit(*, pyramid_id, connector: Connector | None = None, final_attempt: bool = True) -> Pyramid:
    """Place every pending leg of a pyramid; ``live`` when they are on the exchange.

    A leg refused for good fails the pyramid: what was placed is cancelled and, for a group's first
    pyramid, the group is ``failed`` with the exchange's reason. RetryableError propagates for the
    task to retry (1 s, 2 s, 4 s); legs already placed are not sent again.
    """
    pyramid = Pyramid.objects.select_related("group__exchange_account").get(pk=pyramid_id)
    group = pyramid.group
    if pyramid.status == Pyramid.Status.FAILED or group.status in GROUP_NOT_CLOSABLE_STATUSES:
        # A close got there first: it cancels these legs; sending them now would only add work.
        return pyramid
    waiting_on = _close_awaited(pyramid)
    if waiting_on == "closing":
        return pyramid  # the opposite side's close is in flight; its end submits this grid
    connector = connector or connector_for_account(group.exchange_account)
    if waiting_on is not None:
        return _pyramid_failed(pyramid, connector, reason=waiting_on, signal_failed=True)
    legs = pyramid.orders.filter(role=Order.Role.ENTRY, status__in=ORDER_UNSENT_STATUSES)
    snapshot = group.config_snapshot or {}
    # Before the first opening order (a market leg waiting for its price included): the group's leverage and
    # margin mode. A new group the engine holds nothing else for on the symbol always sends both (what was last
    # set is only the engine's memory: a trader may have changed the flat symbol by hand); with another group's
    # orders or position there they are already in force (routing refuses other settings: _settings_conflict)
    # and nothing is sent. A later pyramid sends them only when they differ from what was last set.
    if (
        snapshot.get("market_type") == "swap"
        and pyramid.orders.filter(
            role=Order.Role.ENTRY, status__in=[OrderStatus.PENDING, OrderStatus.TRIGGER_PENDING]
        ).exists()
        and not (pyramid.index == 0 and _settings_in_force(group))
    ):
        try:
            settings_apply(
                group.exchange_account,
                group.symbol,
                leverage=int(snapshot.get("leverage") or 1),
                margin_mode=snapshot.get("margin_mode") or "isolated",
                connector=connector,
                always=pyramid.index == 0,
            )
        except PermanentError as exc:
            return _pyramid_failed(
                pyramid,
                connector,
                reason=f"{group.exchange} refused leverage {snapshot.get('leverage')} "
                f"({snapshot.get('margin_mode')}) on {group.symbol}: {exchange_text(exc)}",
            )
    try:
        for leg in legs.order_by("leg_index"):
            order_place(leg, connector, final_attempt=final_attempt)
    except PlacementFailed as exc:
        return _pyramid_failed(pyramid, connector, reason=f"Order refused by {group.exchange}: {exc}")
    pyramids_move(Pyramid.objects.filter(pk=pyramid.pk), sources=[PyramidStatus.PENDING], to=PyramidStatus.SUBMITTED)
    group.refresh_from_db()
    if group.status == GroupStatus.WAITING:
        note = snapshot.get("leverage_note") if pyramid.index == 0 else ""
        group_transition(
            group, to=GroupStatus.LIVE, reason="orders placed on the exchange" + (f"; {note}" if note else "")
        )
        emit("status", group=group, from_status=GroupStatus.WAITING, to_status=GroupStatus.LIVE)
        group_refresh_stats(group_id=group.pk)  # legs that filled on arrival move it on
    else:
        group_refresh_stats(group_id=group.pk)
    return pyramid


def _settings_in_force(group: PositionGroup) -> bool:
    """Whether another of the engine's non-terminal groups on the group's account and symbol has orders on the
    exchange (sent, resting or filled): the symbol's leverage and margin mode were set for it, and are the group's
    (routing's ``_settings_conflict``). A group with nothing sent yet does not count: two new groups routed together
    each send the same settings rather than each count on the other."""
    return (
        groups_on_symbol(group.exchange_account_id, group.symbol)
        .exclude(pk=group.pk)
        .filter(Q(orders__status__in=ORDER_ON_EXCHANGE_STATUSES) | Q(orders__filled_quantity__gt=0))
        .exists()
    )


def _close_awaited(pyramid: Pyramid) -> str | None:
    """For a reverse's grid: None when it may be placed (no close awaited, or it closed), "closing"
    while the opposite side's close is in flight, else why it must not be placed (the close failed)."""
    if pyramid.after_close_of_id is None:
        return None
    awaited = PositionGroup.objects.get(pk=pyramid.after_close_of_id)
    if awaited.status == GroupStatus.CLOSED:
        return None
    if awaited.status == GroupStatus.CLOSING:
        return "closing"
    return (
        f"Not opened: closing the {awaited.side} {awaited.symbol} position first did not complete "
        f"({awaited.status_reason or awaited.get_status_display()})."
    )


def pyramids_after_close_submit(group_id) -> None:
    """The end of a close (filled, or refused): let the grids that waited on it go (or fail) now."""
    for pyramid_id in Pyramid.objects.filter(after_close_of_id=group_id, status=Pyramid.Status.PENDING).values_list(
        "pk", flat=True
    ):
        dispatch.submit_pyramid(pyramid_id)


def _pyramid_failed(pyramid: Pyramid, connector: Connector, *, reason: str, signal_failed: bool = False) -> Pyramid:
    for leg in pyramid.orders.exclude(status__in=ORDER_TERMINAL_STATUSES):
        order_cancel(leg, connector)
    pyramids_move(Pyramid.objects.filter(pk=pyramid.pk), to=PyramidStatus.FAILED)
    if signal_failed and pyramid.signal_id:  # a reverse whose close failed: its signal fails with it
        signals_move(Signal.objects.filter(pk=pyramid.signal_id), to=SignalStatus.FAILED, reason=reason)
    group = PositionGroup.objects.get(pk=pyramid.group_id)
    logger.warning("pyramid %s of group %s failed: %s", pyramid.index, group.pk, reason)
    emit("failure", group=group, message=f"Pyramid {pyramid.index + 1} failed: {reason}")
    if pyramid.index == 0 and group.status in (GroupStatus.WAITING, GroupStatus.LIVE):
        if held_quantity(group) == 0:
            group_transition(group, to=GroupStatus.FAILED, reason=reason)
        else:
            PositionGroup.objects.filter(pk=group.pk).update(status_reason=reason)
    else:
        PositionGroup.objects.filter(pk=group.pk).update(status_reason=f"Pyramid {pyramid.index + 1} failed: {reason}")
        group_refresh_stats(group_id=group.pk)
    pyramid.refresh_from_db()
    return pyramid
