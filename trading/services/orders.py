"""Placing orders on the exchange and applying what the exchange says about them.

Order rows are committed (``pending``) before any exchange call. Placement first marks the row as
being sent (``submitted_at``) in its own short transaction; a worker that finds that mark (after a
crash, a timeout or a lost answer) looks the order up by client order id before sending again, so
an order is never doubled. Exchange I/O happens outside transactions; results are applied in
short ones, idempotently: applying the same exchange state twice changes nothing.
"""

import logging
from dataclasses import replace
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from exchanges.connector import (
    Connector, ExchangeError, ExchangeOrder, OrderNotFound, PermanentError, RetryableError,
)
from notifications.events import emit
from trading.models import Order, PositionGroup, Pyramid, Signal
from trading.services import dispatch
from trading.services.transitions import StaleStatus, group_transition, order_transition
from trading.states import GroupStatus, IllegalTransition, OrderStatus
from trading.stats import FillEvent, replay

logger = logging.getLogger(__name__)

EXCHANGE_STATUS = {"open": OrderStatus.OPEN, "closed": OrderStatus.FILLED, "canceled": OrderStatus.CANCELLED}


class PlacementFailed(Exception):
    """The exchange refused the order for good; the order row is ``failed`` with its message."""


def exchange_text(exc: Exception) -> str:
    """The error as a trader should read it: the exchange's words, and the detail when there is more."""
    detail = getattr(exc, "exchange_message", "")
    return f"{exc} ({detail})" if detail and detail != str(exc) else str(exc)


def base_asset(symbol: str) -> str:
    return symbol.split("/")[0]


def quote_asset(symbol: str) -> str:
    return symbol.split("/")[1].split(":")[0]


# --- Placement -------------------------------------------------------------------------------


# An exchange's Retry-After above this is not waited for in one retry: five minutes keeps every
# countdown far inside Redis's one-hour visibility timeout (a longer one would hand the task to a
# second worker), and an order still refused after that fails with the exchange's words.
MAX_RETRY_AFTER_SECONDS = 300


def order_place(order: Order, connector: Connector, *, final_attempt: bool = True, refresh_stats: bool = True) -> Order:
    """Send one pending (or unknown) order, at most once on the exchange.

    A lost answer (timeout, 5xx, 429, "status unknown") is never a refusal: the order is left
    ``unknown`` — the exchange may well have it — and RetryableError propagates for the task to
    retry, or, on the ``final_attempt``, the unknown order is returned for the fill sync to resolve by
    lookup (by client order id; ``failed`` only once the exchange still does not know it after the
    placement's retry window and the grace polls). Only the exchange's refusal marks it failed and
    raises PlacementFailed.
    """
    order.refresh_from_db()
    if order.status not in (OrderStatus.PENDING, OrderStatus.UNKNOWN):
        return order  # already placed, or cancelled while we were queued
    is_retry = order.status == OrderStatus.UNKNOWN or order.submitted_at is not None
    if not is_retry:
        claimed = Order.objects.filter(pk=order.pk, status=OrderStatus.PENDING, submitted_at__isnull=True).update(
            submitted_at=timezone.now()
        )
        is_retry = not claimed  # another worker got there first: look before sending
    else:
        # submitted_at is the latest attempt: the fill sync leaves an order alone while its placement
        # task may still be retrying (trading.services.sync.PLACEMENT_RETRY_WINDOW counts from here).
        Order.objects.filter(pk=order.pk, status__in=[OrderStatus.PENDING, OrderStatus.UNKNOWN]).update(
            submitted_at=timezone.now()
        )
    try:
        result = connector.place_order(
            symbol=order.symbol, side=order.side, type=order.order_type, amount=order.quantity,
            price=order.price if order.order_type == "limit" else None, client_order_id=order.client_order_id,
            is_retry=is_retry,
        )
    except RetryableError as exc:
        _mark_unknown(order, exchange_text(exc))
        if final_attempt:
            logger.warning("order %s: no answer after retries (%s); left unknown for the fill sync to look up",
                           order.client_order_id, exchange_text(exc))
            order.refresh_from_db()
            return order
        raise
    except PermanentError as exc:
        _fail(order, exchange_text(exc))
        raise PlacementFailed(exchange_text(exc)) from exc
    try:
        return order_apply_exchange_state(order, result, refresh_stats=refresh_stats, connector=connector)
    except IllegalTransition:  # StaleStatus included: the row moved while we were sending
        return _cancel_if_cancelled_meanwhile(order, connector)


def _mark_unknown(order: Order, reason: str) -> None:
    try:
        if order.status == OrderStatus.PENDING:
            order_transition(order, to=OrderStatus.UNKNOWN, reason=reason)
    except StaleStatus:
        pass


def _fail(order: Order, message: str) -> None:
    order.refresh_from_db()
    if order.status in (OrderStatus.PENDING, OrderStatus.UNKNOWN):
        order_transition(order, to=OrderStatus.FAILED, reason=message)


def _cancel_if_cancelled_meanwhile(order: Order, connector: Connector) -> Order:
    """A close cancelled the row while we were sending it: take the new order off the exchange too,
    and keep what it filled before that (a ``cancelled`` row with a fill, like a leg cancelled part-filled)."""
    order.refresh_from_db()
    if order.status != OrderStatus.CANCELLED:
        return order
    try:
        final = _cancel_on_exchange(order, connector)
    except RetryableError:
        final = None  # the placement is done; reconciliation settles an order this cancel could not
    if final is not None and final.filled > order.filled_quantity:
        if not final.fee_reported:
            final = _with_fee_from_trades(order, final, connector)
        _record_fill_of_cancelled(order, final)
    return order


def _record_fill_of_cancelled(order: Order, state: ExchangeOrder) -> None:
    with transaction.atomic():
        PositionGroup.objects.select_for_update().filter(pk=order.group_id).first()
        Order.objects.filter(pk=order.pk, status=OrderStatus.CANCELLED).update(
            filled_quantity=state.filled, avg_fill_price=state.average, fee=state.fee, fee_currency=state.fee_currency,
            exchange_order_id=order.exchange_order_id or state.id or "", filled_at=timezone.now(),
            first_filled_at=order.first_filled_at or timezone.now(),
            updated_at=timezone.now(),
        )
        group_refresh_stats(group_id=order.group_id)
    logger.warning("order %s was cancelled while being placed; it filled %s first, recorded",
                   order.client_order_id, state.filled)


def order_cancel(order: Order, connector: Connector) -> Order:
    """Take an order off the exchange (an order already gone is fine) and record its final fill."""
    order.refresh_from_db()
    if order.status == OrderStatus.TRIGGER_PENDING or (order.status == OrderStatus.PENDING and order.submitted_at is None):
        try:
            return order_transition(order, to=OrderStatus.CANCELLED, reason="cancelled before it was sent",
                                    where={"submitted_at__isnull": True})
        except StaleStatus:
            order.refresh_from_db()  # a worker started sending it: cancel it on the exchange below
    if order.status not in (OrderStatus.PENDING, OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED, OrderStatus.UNKNOWN):
        return order
    result = _cancel_on_exchange(order, connector)
    if result is not None and result.status == "open":
        raise RetryableError(f"order {order.client_order_id} is still open after its cancel; try again")
    if result is None:
        # Never reached the exchange (or it forgot it): nothing can fill any more.
        order.refresh_from_db()
        if order.status in (OrderStatus.PENDING, OrderStatus.UNKNOWN, OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED):
            order_transition(order, to=OrderStatus.CANCELLED, reason="cancelled")
        return order
    return order_apply_exchange_state(order, result, connector=connector)


def _cancel_on_exchange(order: Order, connector: Connector) -> ExchangeOrder | None:
    """Cancel ``order`` on the exchange: its final state, or None when the exchange does not know it.

    An answer without a final state (Bybit answers a cancel with ids only) or an order already gone is
    looked up: what it filled comes from the exchange, never from our last sync. A lookup that gets no
    answer raises RetryableError: the order may still be live.
    """
    try:
        result = connector.cancel_order(symbol=order.symbol, client_order_id=order.client_order_id)
    except OrderNotFound:
        result = None
    if result is not None and result.status != "open":
        return result
    try:
        return connector.fetch_order(symbol=order.symbol, client_order_id=order.client_order_id)
    except OrderNotFound:
        return None


# --- Applying exchange state -----------------------------------------------------------------


def exchange_view(order: Order, state: ExchangeOrder) -> tuple[OrderStatus, dict] | None:
    """What ``order`` becomes after ``state``: (status, fields), or None when nothing changes."""
    filled = state.filled
    if filled < order.filled_quantity:
        return None  # an older answer than what we already applied
    target = EXCHANGE_STATUS.get(state.status, OrderStatus.OPEN)
    if target == OrderStatus.OPEN and filled > 0:
        target = OrderStatus.PARTIALLY_FILLED
    fields = {
        "filled_quantity": filled,
        "avg_fill_price": state.average if filled else order.avg_fill_price,
    }
    if state.fee_reported:  # an answer without fees (Binance's queries) leaves the known fee as it is
        fields.update(fee=state.fee, fee_currency=state.fee_currency)
    if state.id and not order.exchange_order_id:
        fields["exchange_order_id"] = state.id
    if order.unknown_polls:
        fields["unknown_polls"] = 0  # found again: the count of consecutive misses starts over
    if filled > 0 and order.first_filled_at is None:
        fields["first_filled_at"] = timezone.now()
    if target == OrderStatus.FILLED and order.filled_at is None:
        fields["filled_at"] = timezone.now()
    if target == order.status and all(getattr(order, k) == v for k, v in fields.items()):
        return None
    return target, fields


def order_apply_exchange_state(order: Order, state: ExchangeOrder, *, refresh_stats: bool = True,
                               connector: Connector | None = None) -> Order:
    """Bring ``order`` up to what the exchange reports; no change when it already matches.

    A new fill reported without its fee (Binance's order queries) gets the fee from the order's
    trades, asked of ``connector`` (outside any transaction). ``refresh_stats`` False leaves the
    group's statistics to the caller, which refreshes them once after applying a batch (the fill
    sync, take-profit placement).
    """
    if exchange_view(order, state) is None:
        return order  # the row can only lag the database, so an unchanged view needs no lock
    if state.filled > order.filled_quantity and not state.fee_reported and connector is not None:
        state = _with_fee_from_trades(order, state, connector)
    fee_rate = _third_currency_rate(order, state, connector)
    with transaction.atomic():
        PositionGroup.objects.select_for_update().filter(pk=order.group_id).first()  # lock order: group, then order
        order = Order.objects.select_for_update().get(pk=order.pk)
        view = exchange_view(order, state)
        if view is None:
            return order
        target, fields = view
        if fee_rate is not None:
            fields["fee_rate"] = fee_rate
        if state.filled and order.order_type == "market" and order.decision_price and state.average:
            fields.update(_slippage(order, state.average))
        if target != order.status:
            order_transition(order, to=target, **fields)
            emit("order_filled", group=order.group_id, order_id=order.pk, role=order.role) if target == OrderStatus.FILLED else None
        else:
            Order.objects.filter(pk=order.pk).update(**fields, updated_at=timezone.now())
            for name, value in fields.items():
                setattr(order, name, value)
        if refresh_stats:
            group_refresh_stats(group_id=order.group_id)
    return order


def _third_currency_rate(order: Order, state: ExchangeOrder, connector: Connector | None) -> Decimal | None:
    """The quote price of a third-currency fee (BNB/USDT for a fee in BNB on BTC/USDT), asked when the fill
    is recorded (the fill-time rate); None when the fee is in the base or quote, or no price can be had."""
    currency = state.fee_currency
    if not state.fee or currency in ("", base_asset(order.symbol), quote_asset(order.symbol)) or connector is None:
        return None
    if order.fee_rate is not None and currency == order.fee_currency:
        return None  # rated when its first fill was recorded
    try:
        return connector.ticker(f"{currency}/{quote_asset(order.symbol)}").last
    except ExchangeError as exc:
        logger.warning("order %s: fee in %s, no %s/%s price (%s); its cost is left out of PnL until rated",
                       order.client_order_id, currency, currency, quote_asset(order.symbol), exc)
        return None


def _with_fee_from_trades(order: Order, state: ExchangeOrder, connector: Connector) -> ExchangeOrder:
    """``state`` with the fee its trades say was paid, or as it was when they cannot be had now (the
    fee is then filled in by a later sync: the fill itself is never held back)."""
    try:
        trades = connector.fetch_order_trades(symbol=order.symbol, id=state.id or order.exchange_order_id,
                                              client_order_id=order.client_order_id)
    except (ExchangeError, NotImplementedError) as exc:
        logger.warning("order %s: fee not in the answer and its trades unavailable (%s)", order.client_order_id, exc)
        return state
    by_currency: dict[str, Decimal] = {}
    for trade in trades:
        if trade.fee_currency:
            by_currency[trade.fee_currency] = by_currency.get(trade.fee_currency, Decimal(0)) + trade.fee
    if not by_currency:
        return state
    if len(by_currency) > 1:
        logger.warning("order %s paid fees in several currencies %s; recording the first", order.client_order_id,
                       by_currency)
    currency, fee = next(iter(by_currency.items()))
    return replace(state, fee=fee, fee_currency=currency)


def _slippage(order: Order, fill_price: Decimal) -> dict:
    """Compare a market fill with the price when it was decided; over the limit is logged (``warn``)."""
    from trading.take_profit import slippage_percent

    slipped = slippage_percent(order.side, order.decision_price, fill_price)
    limit = PositionGroup.objects.get(pk=order.group_id).config_snapshot.get("max_slippage_percent")
    outcome = Order.SlippageOutcome.WITHIN
    if limit not in (None, "") and slipped > Decimal(limit):
        outcome = Order.SlippageOutcome.WARNED
        logger.warning("order %s filled at %s, %.3f%% worse than %s (limit %s%%)",
                       order.client_order_id, fill_price, slipped, order.decision_price, limit)
    return {"slippage_percent": slipped, "slippage_outcome": outcome}


# --- Statistics ------------------------------------------------------------------------------


def fill_events(orders, symbol: str) -> list[FillEvent]:
    """The fills of ``orders`` (entries and exits) as the statistics replay takes them.

    An entry counts from its first fill, an exit from its completion: a leg cancelled part-filled
    (never ``filled_at``) then counts before the take-profits that sold its coins, never after them
    (which made the replay cap those sells and the close sell the coins again).
    """
    base, quote = base_asset(symbol), quote_asset(symbol)
    return [
        FillEvent(
            is_entry=order.role == Order.Role.ENTRY, quantity=order.filled_quantity,
            price=order.avg_fill_price or order.price, fee=order.fee, fee_in_base=order.fee_currency == base,
            at=(order.first_filled_at if order.role == Order.Role.ENTRY else None) or order.filled_at or order.updated_at,
            fee_cost=_third_currency_fee_cost(order, base, quote),
        )
        for order in orders.filter(filled_quantity__gt=0).order_by("filled_at", "updated_at")
    ]


def _third_currency_fee_cost(order: Order, base: str, quote: str) -> Decimal | None:
    """A fee paid in neither the base nor the quote (BNB): its value in the quote at the recorded rate,
    zero while no rate could be had (never the BNB amount booked as quote)."""
    if not order.fee or order.fee_currency in ("", base, quote):
        return None
    return order.fee * order.fee_rate if order.fee_rate is not None else Decimal(0)


def group_fills(group: PositionGroup) -> list[FillEvent]:
    return fill_events(group.orders, group.symbol)


def group_refresh_stats(*, group_id) -> PositionGroup:
    """Replay the group's fills and store its statistics and leg counts; move its status with them."""
    with transaction.atomic():
        group = PositionGroup.objects.select_for_update().get(pk=group_id)
        stats = replay(group.side, group_fills(group))
        counts = group.orders.filter(role=Order.Role.ENTRY).aggregate(
            legs=Count("pk"),
            dead=Count("pk", filter=Q(status__in=[OrderStatus.FAILED, OrderStatus.CANCELLED], filled_quantity=0)),
            filled=Count("pk", filter=Q(status=OrderStatus.FILLED) | Q(status=OrderStatus.CANCELLED, filled_quantity__gt=0)),
            touched=Count("pk", filter=Q(filled_quantity__gt=0)),
        )
        total, filled = counts["legs"] - counts["dead"], counts["filled"]
        unrealized_usd, unrealized_percent = stats.unrealized(group.current_price)
        PositionGroup.objects.filter(pk=group.pk).update(
            weighted_avg_entry=stats.weighted_avg_entry, total_filled_quantity=stats.held_quantity,
            total_invested_usd=stats.invested_usd, realized_pnl_usd=stats.realized_pnl_usd, fees_usd=stats.fees_usd,
            unrealized_pnl_usd=unrealized_usd, unrealized_pnl_percent=unrealized_percent,
            total_dca_legs=total, filled_dca_legs=min(filled, total), oversold_quantity=stats.oversold_quantity,
            updated_at=timezone.now(),
        )
        if stats.oversold_quantity > group.oversold_quantity:
            _report_oversell(group, stats.oversold_quantity)
        group.refresh_from_db()
        _move_group_with_fills(group, filled=filled, total=total, touched=counts["touched"])
        _move_pyramids_with_fills(group)
    return group


def _report_oversell(group: PositionGroup, oversold: Decimal) -> None:
    """Exit fills sold more than the group held: loud, everywhere a trader or operator looks."""
    base = base_asset(group.symbol)
    message = (f"ANOMALY: the exchange filled {oversold.normalize():f} {base} more in exits than this position "
               f"held. On a spot account those coins were not the position's; check the account and its orders.")
    logger.error("group %s (%s %s): %s", group.pk, group.side, group.symbol, message)
    emit("failure", group=group, message=message)  # urgent: through quiet hours


def _move_group_with_fills(group: PositionGroup, *, filled: int, total: int, touched: int) -> None:
    """live → partially_filled at the first fill (even part of a leg) → active when every leg filled."""
    if group.status == GroupStatus.LIVE and total == 0 and not group.total_filled_quantity:
        # Every leg failed or was cancelled without a fill: nothing of this group is on the exchange.
        if not group.orders.filter(status__in=[OrderStatus.PENDING, OrderStatus.TRIGGER_PENDING]).exists():
            group_transition(group, to=GroupStatus.FAILED, reason="none of its orders is on the exchange any more")
            emit("failure", group=group, message="None of the position's orders is on the exchange any more.")
        return
    if group.status not in (GroupStatus.LIVE, GroupStatus.PARTIALLY_FILLED, GroupStatus.ACTIVE):
        return
    if total and filled >= total:
        target = GroupStatus.ACTIVE
    elif touched:
        target = GroupStatus.PARTIALLY_FILLED
    else:
        return
    if target != group.status:
        emit("status", group=group, from_status=group.status, to_status=target)
        group_transition(group, to=target)


def _move_pyramids_with_fills(group: PositionGroup) -> None:
    for pyramid in group.pyramids.filter(status__in=[Pyramid.Status.SUBMITTED, Pyramid.Status.PARTIALLY_FILLED]):
        legs = pyramid.orders.filter(role=Order.Role.ENTRY).exclude(status=OrderStatus.FAILED)
        if not legs.exists():
            continue
        unfilled = legs.exclude(status=OrderStatus.FILLED).exclude(status=OrderStatus.CANCELLED, filled_quantity__gt=0)
        status = Pyramid.Status.FILLED if not unfilled.exists() else (
            Pyramid.Status.PARTIALLY_FILLED if legs.filter(filled_quantity__gt=0).exists() else pyramid.status
        )
        if status != pyramid.status:
            Pyramid.objects.filter(pk=pyramid.pk).update(
                status=status, filled_at=timezone.now() if status == Pyramid.Status.FILLED else None
            )


def held_quantity(group: PositionGroup) -> Decimal:
    return replay(group.side, group_fills(group)).held_quantity


# --- Submitting a pyramid's grid ---------------------------------------------------------------


def pyramid_submit(*, pyramid_id, connector: Connector | None = None, final_attempt: bool = True) -> Pyramid:
    """Place every pending leg of a pyramid; ``live`` when they are on the exchange.

    A leg refused for good fails the pyramid: what was placed is cancelled and, for a group's first
    pyramid, the group is ``failed`` with the exchange's reason. RetryableError propagates for the
    task to retry (1 s, 2 s, 4 s); legs already placed are not sent again.
    """
    from exchanges.services.accounts import connector_for_account

    pyramid = Pyramid.objects.select_related("group__exchange_account").get(pk=pyramid_id)
    group = pyramid.group
    if pyramid.status == Pyramid.Status.FAILED or group.status in (GroupStatus.CLOSING, GroupStatus.CLOSED, GroupStatus.FAILED):
        # A close got there first: it cancels these legs; sending them now would only add work.
        return pyramid
    waiting_on = _close_awaited(pyramid)
    if waiting_on == "closing":
        return pyramid  # the opposite side's close is in flight; its end submits this grid
    connector = connector or connector_for_account(group.exchange_account)
    if waiting_on is not None:
        return _pyramid_failed(pyramid, connector, reason=waiting_on, signal_failed=True)
    legs = pyramid.orders.filter(role=Order.Role.ENTRY, status__in=[OrderStatus.PENDING, OrderStatus.UNKNOWN])
    try:
        for leg in legs.order_by("leg_index"):
            order_place(leg, connector, final_attempt=final_attempt)
    except PlacementFailed as exc:
        return _pyramid_failed(pyramid, connector, reason=f"Order refused by {group.exchange}: {exc}")
    Pyramid.objects.filter(pk=pyramid.pk, status=Pyramid.Status.PENDING).update(status=Pyramid.Status.SUBMITTED)
    group.refresh_from_db()
    if group.status == GroupStatus.WAITING:
        group_transition(group, to=GroupStatus.LIVE, reason="orders placed on the exchange")
        emit("status", group=group, from_status=GroupStatus.WAITING, to_status=GroupStatus.LIVE)
        group_refresh_stats(group_id=group.pk)  # legs that filled on arrival move it on
    else:
        group_refresh_stats(group_id=group.pk)
    return pyramid


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
    return (f"Not opened: closing the {awaited.side} {awaited.symbol} position first did not complete "
            f"({awaited.status_reason or awaited.get_status_display()}).")


def pyramids_after_close_submit(group_id) -> None:
    """The end of a close (filled, or refused): let the grids that waited on it go (or fail) now."""
    for pyramid_id in Pyramid.objects.filter(after_close_of_id=group_id, status=Pyramid.Status.PENDING).values_list(
            "pk", flat=True):
        dispatch.submit_pyramid(pyramid_id)


def _pyramid_failed(pyramid: Pyramid, connector: Connector, *, reason: str, signal_failed: bool = False) -> Pyramid:
    for leg in pyramid.orders.exclude(status__in=[OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.FAILED]):
        order_cancel(leg, connector)
    Pyramid.objects.filter(pk=pyramid.pk).update(status=Pyramid.Status.FAILED)
    if signal_failed and pyramid.signal_id:
        Signal.objects.filter(pk=pyramid.signal_id).update(status=Signal.Status.FAILED, reason=reason)
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
