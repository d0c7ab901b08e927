"""The one close path: exit signals, reduce, reverse, and later take-profit, stop loss, risk and manual.

A full close cancels every resting entry and take-profit order (one already gone is fine), then
market-sells (long) or buys back (short) what the sell budget still allows, and closes the group
with its realised PnL and a close record once nothing sellable is left (dust recorded). A partial
close (reduce, risk offset) market-closes only the quantity asked, capped at the sell budget. A
closed group lets what waited on it go: a reverse's other side, a loss offset's winners. Exchange
calls happen outside transactions.
"""

import logging
import uuid
from decimal import Decimal
from functools import partial

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from core.events import emit
from exchanges.connector import Connector, ExchangeError
from exchanges.services.accounts import connector_for_account
from trading import journal
from trading.errors import PositionNotClosable
from trading.grid import round_price, sellable
from trading.hooks import close_ended
from trading.journal_text import PRICE_SOURCES
from trading.locks import lock_group
from trading.models import ExitReason, Order, OrderSide, OrderType, PositionGroup, Side, SlippageAction
from trading.selectors import orders_to_cancel
from trading.services import dispatch
from trading.services.budget import live_exits, sell_budget
from trading.services.fills import group_refresh_stats, held_quantity
from trading.services.orders import PlacementFailed, order_cancel, order_place
from trading.services.positions import pyramids_after_close_submit
from trading.services.transitions import group_transition, order_transition, pyramids_move
from trading.states import (
    GROUP_NOT_CLOSABLE_STATUSES,
    GROUP_TERMINAL_STATUSES,
    ORDER_MAY_STILL_FILL,
    ORDER_UNSENT_STATUSES,
    GroupStatus,
    OrderStatus,
    PyramidStatus,
)

logger = logging.getLogger(__name__)


def position_close_request(*, group: PositionGroup, reason: str) -> PositionGroup:
    """Mark a group ``closing`` (call inside a transaction; the caller enqueues ``close_position_task``)."""
    if group.status in GROUP_NOT_CLOSABLE_STATUSES:
        return group
    group_transition(group, to=GroupStatus.CLOSING, reason=f"closing: {ExitReason(reason).label}")
    PositionGroup.objects.filter(pk=group.pk).update(exit_reason=reason)
    group.exit_reason = reason
    return group


def position_close_by_trader(*, group: PositionGroup) -> PositionGroup:
    """The trader's close of a whole position at market (the page's button and the API's ``close``): mark it
    ``closing`` with exit reason manual and start the close task after commit. Raises
    ``PositionNotClosable`` (nothing changed) for a position already closing, closed or failed."""
    with transaction.atomic():
        # The row lock orders this close with routing and fill sync touching the same group.
        group = lock_group(group.pk)
        if group.status in GROUP_NOT_CLOSABLE_STATUSES:
            raise PositionNotClosable(group)
        position_close_request(group=group, reason=ExitReason.MANUAL)
        transaction.on_commit(partial(position_close_enqueue, group.pk, ExitReason.MANUAL.value))
    return group


def position_close_enqueue(group_id, reason: str) -> None:
    """Start the close task (call after commit). A broker outage is survived: the group stays
    ``closing`` and the stalled-work sweep re-sends the close within a minute."""
    dispatch.close_position(group_id, reason)


def position_close(
    *,
    group_id,
    reason: str,
    quantity: Decimal | None = None,
    request_key: str | None = None,
    connector: Connector | None = None,
    final_attempt: bool = True,
) -> PositionGroup:
    """Close the whole group (``quantity`` None) or market-close ``quantity`` of it. Safe to call twice:
    a full close sells what the budget still allows (nothing, the second time); a partial one sells
    once per ``request_key`` (its exit's id is derived from it), however often it is asked.

    In order: an exit already in flight whose answer was lost is looked up (and sent only if the
    exchange never had it); resting orders are cancelled (all of them for a full close, the
    take-profits for a partial one, so that their coins are free); then, under the group's lock,
    the exit takes what the sell budget still allows (``trading.services.budget``): a second close
    while one is in flight sends nothing more. What is too small for one order (under the market's
    step, minimum quantity or notional) is not sent: a full close with nothing else live ends the
    group with it recorded as dust.

    RetryableError propagates for the task to retry; on the ``final_attempt`` the exit is left
    ``unknown`` for the fill sync to resolve by lookup (never counted as refused). An exit the
    exchange refused hands the position back with the reason.
    """
    group = PositionGroup.objects.select_related("exchange_account").get(pk=group_id)
    if group.status in GROUP_TERMINAL_STATUSES:
        return group
    connector = connector or connector_for_account(group.exchange_account)
    if quantity is None and reason in LOST_REASONS:
        # The exchange closed it (a stalled one, re-sent by recovery): nothing to sell, only to cancel and record.
        return position_lost_close(group_id=group.pk, reason=reason, connector=connector)
    for in_flight in live_exits(group).filter(status__in=ORDER_UNSENT_STATUSES):
        try:
            order_place(in_flight, connector, final_attempt=final_attempt)
        except PlacementFailed as exc:
            logger.warning("exit %s of group %s refused: %s", in_flight.client_order_id, group.pk, exc)
    exit_id = _exit_id(group.pk, request_key) if quantity is not None and request_key else None
    if exit_id is not None and Order.objects.filter(pk=exit_id).exists():
        return group_refresh_stats(group_id=group.pk)  # this reduce was sent already (re-placed above if in flight)
    resting = orders_to_cancel(group)
    if quantity is not None:
        # Take-profits hold the base asset on the exchange; free it, sell, then re-place them for
        # what is left (group_evaluate below).
        resting = resting.filter(role=Order.Role.TAKE_PROFIT)
    for order in resting:
        order_cancel(order, connector)
    group_refresh_stats(group_id=group.pk)
    market = connector.market(group.symbol)
    decision_price = _decision_price(group, connector)
    with transaction.atomic():
        locked = lock_group(group.pk, with_account=True)
        if locked.status in GROUP_TERMINAL_STATUSES:
            return locked
        budget = sell_budget(locked)
        wanted = budget if quantity is None else min(quantity, budget)
        to_close = sellable(
            wanted,
            price=decision_price,
            step=market.step_size,
            min_qty=market.min_qty,
            min_notional=market.min_notional,
        )
        exit_order = (
            exit_order_create(locked, to_close, reason, connector, decision_price=decision_price, order_id=exit_id)
            if to_close
            else None
        )
    if exit_order is not None:
        try:
            order_place(exit_order, connector, final_attempt=final_attempt)
        except PlacementFailed as exc:
            return _close_failed(group, str(exc))
    group = group_refresh_stats(group_id=group.pk)
    if quantity is None:
        return position_finish_if_done(group, reason, connector)
    return group  # a reduce: the caller re-places the take-profits for what is left


# Exit ids of keyed reduces: uuid5 in this namespace of "<group id>/<request key>".
_EXIT_ID_NAMESPACE = uuid.UUID("5b0f6c4e-2a43-4d0e-9a51-0d1f3c9e7b21")


def _exit_id(group_id, request_key: str) -> uuid.UUID:
    return uuid.uuid5(_EXIT_ID_NAMESPACE, f"{group_id}/{request_key}")


def _decision_price(group: PositionGroup, connector: Connector) -> Decimal | None:
    try:
        return connector.ticker(group.symbol).last
    except ExchangeError:
        return group.current_price or group.weighted_avg_entry


def position_finish_if_done(group: PositionGroup, reason: str, connector: Connector) -> PositionGroup:
    """Close the group when nothing of it can fill any more and what it holds cannot be sold in one
    order (nothing, or dust under the market's minimums); otherwise leave it as it is."""
    group.refresh_from_db()
    if group.status in GROUP_TERMINAL_STATUSES:
        return group
    if group.orders.filter(status__in=ORDER_MAY_STILL_FILL).exists():
        return group
    market = connector.market(group.symbol)
    # The price the last exit got is the freshest the engine has (the stored current price may be a
    # cycle old): the minimum notional and the dust's value are judged at it.
    last_exit = (
        group.orders.filter(
            role__in=[Order.Role.EXIT, Order.Role.TAKE_PROFIT], filled_quantity__gt=0, avg_fill_price__isnull=False
        )
        .order_by("-filled_at", "-updated_at")
        .first()
    )
    price = (last_exit.avg_fill_price if last_exit else None) or group.current_price or group.weighted_avg_entry
    remaining = held_quantity(group)
    if (
        sellable(
            remaining, price=price, step=market.step_size, min_qty=market.min_qty, min_notional=market.min_notional
        )
        > 0
    ):
        return group
    return position_finish(group, reason, dust_quantity=remaining, dust_price=price)


def exit_order_create(
    group: PositionGroup,
    quantity: Decimal,
    reason: str,
    connector: Connector,
    *,
    decision_price: Decimal | None,
    pyramid=None,
    order_id: uuid.UUID | None = None,
) -> Order:
    """A new exit order row (``pending``): a market order, or a limit at the worst acceptable price with
    slippage_action "reject". Call under ``lock_group`` with ``quantity`` from the sell budget."""
    side = OrderSide.SELL if group.side == Side.LONG else OrderSide.BUY
    protection = market_protection(group, side, decision_price, connector)
    return Order.objects.create(
        id=order_id or uuid.uuid4(),
        group=group,
        pyramid=pyramid,
        role=Order.Role.EXIT,
        symbol=group.symbol,
        side=side,
        order_type=OrderType.LIMIT if protection else OrderType.MARKET,
        price=protection,
        quantity=quantity,
        exit_reason=reason,
        decision_price=decision_price,
        slippage_outcome=Order.SlippageOutcome.PROTECTED if protection else "",
    )


def market_protection(
    group: PositionGroup, order_side: str, decision_price: Decimal | None, connector: Connector
) -> Decimal | None:
    """With slippage_action "reject", a market order goes out as a limit at the worst acceptable price
    (max_slippage_percent from the decision price), so it cannot fill worse; None sends a plain market order."""
    from trading.take_profit import protected_limit

    limit = group.config_snapshot.get("max_slippage_percent")
    if (
        group.config_snapshot.get("slippage_action") != SlippageAction.REJECT
        or limit in (None, "")
        or decision_price is None
    ):
        return None
    tick = connector.market(group.symbol).tick_size
    return round_price(order_side, protected_limit(order_side, decision_price, Decimal(limit)), tick)


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
    pyramids_after_close_submit(group.pk)  # a reverse's other side is not opened: it fails with this reason
    _close_ended(group.pk, False, message)  # a loss offset's winners are left untouched
    return group


def _close_ended(group_id, closed: bool, reason: str = "") -> None:
    """Tell the layers above (a loss offset's winners wait on this close: ``risk.receivers``)."""
    close_ended.send(sender=PositionGroup, group_id=group_id, closed=closed, reason=reason)


def position_finish(
    group: PositionGroup,
    reason: str,
    *,
    dust_quantity: Decimal = Decimal(0),
    dust_price: Decimal | None = None,
    lost: dict | None = None,
) -> PositionGroup:
    """Nothing sellable is left: the group is closed, with a close record a trader can audit.

    ``dust_quantity``, what remains under the market's minimums, is recorded on the group with its
    value at ``dust_price`` (in the quote currency) and said in the group's reason. ``lost``: the
    exchange closed the position (``position_lost_close``); the record says so and the trader gets an
    urgent message instead of the exit message.
    """
    with transaction.atomic():
        group = lock_group(group.pk)
        if group.status == GroupStatus.CLOSED:
            return group
        label = ExitReason(reason).label
        dust_value = dust_quantity * dust_price if dust_quantity and dust_price else Decimal(0)
        said = f"closed: {label}"
        if dust_quantity > 0:
            base, quote = group.symbol.split(":")[0].split("/")
            said += f", {dust_quantity.normalize():f} {base} ≈ {dust_value:.2f} {quote} left as dust"
        if lost is not None:
            said += f", exit price {PRICE_SOURCES[lost['price_source']]} (the exchange closed it)"
        if group.status != GroupStatus.CLOSING:
            group_transition(group, to=GroupStatus.CLOSING, reason=f"closing: {label}")
        group_transition(group, to=GroupStatus.CLOSED, reason=said)
        PositionGroup.objects.filter(pk=group.pk).update(
            exit_reason=reason,
            unrealized_pnl_usd=0,
            unrealized_pnl_percent=0,
            dust_quantity=dust_quantity,
            dust_value=dust_value,
        )
        # Nothing of a closed position fills any more: its pyramids are closed with it (a failed one stays
        # failed), not left "partially filled" with legs that were cancelled.
        pyramids_move(group.pyramids.all(), to=PyramidStatus.CLOSED, closed_at=group.closed_at)
        exits = group.orders.filter(role__in=[Order.Role.EXIT, Order.Role.TAKE_PROFIT], filled_quantity__gt=0)
        closed_quantity = sum((o.filled_quantity for o in exits), Decimal(0))
        exit_value = sum((o.filled_quantity * (o.avg_fill_price or 0) for o in exits), Decimal(0))
        if lost is None:
            journal.trade_closed(group, reason=reason, quantity_closed=closed_quantity, exit_value=exit_value)
        else:
            journal.position_lost(
                group, reason=reason, quantity_closed=closed_quantity, exit_value=exit_value, lost=lost
            )
        transaction.on_commit(partial(dispatch.promote_queue, group.user_id))  # a slot just freed
        transaction.on_commit(partial(pyramids_after_close_submit, group.pk))  # a reverse's other side
        transaction.on_commit(partial(_close_ended, group.pk, True))  # a loss offset's winners
        if group.config_snapshot.get("market_type") == "swap":  # its final PnL includes the last funding
            transaction.on_commit(partial(dispatch.sync_funding, group.exchange_account_id, group.symbol))
        if lost is None:
            emit("exit", group=group, reason=reason)
        else:  # urgent: through quiet hours
            emit("failure", group=group, message=lost_message(group, reason, lost))
    logger.info("group %s closed (%s), realised %s USD", group.pk, reason, group.realized_pnl_usd)
    return group


# --- Positions the exchange closed ---------------------------------------------------------------

LOST_REASONS = frozenset({ExitReason.LIQUIDATED, ExitReason.CLOSED_ON_EXCHANGE})


def position_lost_close(
    *,
    group_id,
    reason: str,
    connector: Connector,
    expected: Decimal | None = None,
    on_exchange: Decimal | None = None,
    unmanaged: Decimal | None = None,
    price: Decimal | None = None,
    closed_at: tuple[Decimal, Decimal, Decimal, str] | None = None,
) -> PositionGroup:
    """The exchange no longer holds (all of) the group's position: it was liquidated, or closed by hand.

    The group is marked ``closing`` with ``reason`` (liquidated | closed_on_exchange), every order of it that
    may still fill is cancelled (a take-profit left resting would open a fresh position once the price
    reaches it), and the group closes. What it held is booked as one exit the exchange made at an unknown
    price, estimated (the liquidation price when liquidated, else ``price``, the last mark or ticker price,
    else the average entry) and said so in the journal. ``expected``/``on_exchange``: what the engine
    expected and what the exchange held on the position (None when not known: a stalled close re-sent by
    recovery); ``unmanaged``: what the exchange still holds that no group manages any more.

    A group already closing for another reason (a close of the engine's own in flight) is left to it. A
    cancel that gets no answer raises RetryableError with the group left ``closing``: recovery re-sends the
    close, which comes back here.
    """
    with transaction.atomic():
        group = lock_group(group_id)
        if group.status in GROUP_TERMINAL_STATUSES:
            return group
        if group.status == GroupStatus.CLOSING and group.exit_reason != reason:
            return group
        position_close_request(group=group, reason=reason)
    entries = group.orders.filter(role=Order.Role.ENTRY)
    entered = entries.aggregate(q=Sum("filled_quantity"))["q"] or Decimal(0)
    cancelled = 0
    for order in group.orders.filter(status__in=ORDER_MAY_STILL_FILL).order_by("created_at"):
        # An entry leg or take-profit left resting would open a fresh position when the price comes.
        cancelled += order_cancel(order, connector).status == OrderStatus.CANCELLED
    # An entry leg that filled before its cancel arrived opened a new position the exchange holds now: no group
    # manages it any more (its fill is booked in the estimated exit with the rest), the trader is told.
    opened = (entries.aggregate(q=Sum("filled_quantity"))["q"] or Decimal(0)) - entered
    if opened > 0:
        unmanaged = (unmanaged or Decimal(0)) + opened
    group = group_refresh_stats(group_id=group_id)
    # ``closed_at``: (quantity, average price, fee, fee currency) of the exchange's own closing order(s): the exit
    # is at their price with the group's share of their fee; without it the price is estimated.
    exit_price, source = (closed_at[1], "exchange") if closed_at else _lost_exit_price(group, reason, price, connector)
    with transaction.atomic():
        locked = lock_group(group_id)
        if locked.status != GroupStatus.CLOSING:
            return locked
        held = held_quantity(locked)
        fee, fee_currency = Decimal(0), ""
        if closed_at and closed_at[0] > 0:
            fee = (closed_at[2] * min(held / closed_at[0], Decimal(1))).quantize(Decimal("1e-12"))
            fee_currency = closed_at[3]
        if held > 0:
            _exchange_exit_record(locked, held, exit_price, reason, source, fee=fee, fee_currency=fee_currency)
    group = group_refresh_stats(group_id=group_id)
    lost = {
        "expected": expected if expected is not None else held,
        "on_exchange": on_exchange,
        "unmanaged": unmanaged,
        "cancelled": cancelled,
        "price": exit_price,
        "price_source": source,
    }
    return position_finish(group, reason, lost=lost)


def _lost_exit_price(
    group: PositionGroup, reason: str, price: Decimal | None, connector: Connector
) -> tuple[Decimal | None, str]:
    """The estimated price the exchange closed the position at, and where it comes from."""
    if reason == ExitReason.LIQUIDATED and group.liquidation_price:
        return group.liquidation_price, "liquidation"
    if price is None:
        try:
            price = connector.ticker(group.symbol).last
        except ExchangeError:
            price = group.current_price
    if price:
        return price, "mark"
    return group.weighted_avg_entry, "entry"


def _exchange_exit_record(
    group: PositionGroup,
    quantity: Decimal,
    price: Decimal | None,
    reason: str,
    source: str,
    *,
    fee: Decimal = Decimal(0),
    fee_currency: str = "",
) -> Order:
    """The exit the exchange made (call under ``lock_group``): an exit row filled at the price (and fee) of the
    exchange's own closing order when its history shows one, else at an estimate, never sent (the engine has
    no such order), so the statistics, the sell budget and the close record count what the group no longer
    holds. ``error_message`` says where the price comes from."""
    now = timezone.now()
    side = OrderSide.SELL if group.side == Side.LONG else OrderSide.BUY
    order = Order.objects.create(
        group=group,
        role=Order.Role.EXIT,
        symbol=group.symbol,
        side=side,
        order_type=OrderType.MARKET,
        quantity=quantity,
        exit_reason=reason,
        decision_price=price,
    )
    return order_transition(
        order,
        to=OrderStatus.FILLED,
        reason=f"made by the exchange ({ExitReason(reason).label})",
        filled_quantity=quantity,
        avg_fill_price=price,
        fee=fee,
        fee_currency=fee_currency,
        first_filled_at=now,
        filled_at=now,
        error_message=(
            f"Not sent by the engine: the exchange closed the position ({ExitReason(reason).label}); "
            f"exit price {PRICE_SOURCES[source]}."
        ),
    )


def lost_message(group: PositionGroup, reason: str, lost: dict) -> str:
    """The trader's urgent message: what the engine expected, what the exchange holds, what was done."""
    base = group.symbol.split("/")[0]
    quote = group.quote_currency

    def amount(value) -> str:
        return "?" if value is None else f"{Decimal(value).normalize():f}"

    what = "was liquidated" if reason == ExitReason.LIQUIDATED else "was closed on the exchange, not by the engine"
    on_exchange = "an unknown amount" if lost["on_exchange"] is None else f"{amount(lost['on_exchange'])} {base}"
    text = (
        f"{group.label_on_exchange} {what}. The engine expected {amount(lost['expected'])} {base}; "
        f"the exchange holds {on_exchange}. {lost['cancelled']} resting order(s) cancelled and the position closed. "
        f"Realised PnL {group.realized_pnl_usd:.2f} {quote}, exit price {PRICE_SOURCES[lost['price_source']]} "
        f"{amount(lost['price'])}."
    )
    if lost.get("unmanaged"):
        text += (
            f" The {amount(lost['unmanaged'])} {base} left on the exchange are no longer managed by the engine: "
            f"close them there yourself."
        )
    return text
