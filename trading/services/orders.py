"""Placing, cancelling and looking up orders on the exchange, and applying what it says about them.

Order rows are committed (``pending``) before any exchange call. Placement first marks the row as
being sent (``submitted_at``) in its own short transaction; a worker that finds that mark (after a
crash, a timeout or a lost answer) looks the order up by client order id before sending again, so
an order is never doubled. Exchange I/O happens outside transactions; results are applied in
short ones, idempotently: applying the same exchange state twice changes nothing.
"""

import logging
from dataclasses import replace
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.events import emit
from exchanges.connector import (
    Connector,
    ExchangeError,
    ExchangeOrder,
    OrderNotFound,
    PermanentError,
    RetryableError,
    fees_by_currency,
)
from exchanges.currency import quote_of
from exchanges.models import ExchangeAccount
from exchanges.services.derivatives import is_position_mode_refusal, position_mode_refresh
from trading.locks import lock_group_of, lock_order
from trading.models import Order, OrderType, PositionGroup
from trading.services.fills import base_asset, group_refresh_stats
from trading.services.transitions import StaleStatus, order_transition
from trading.states import ORDER_LIVE_STATUSES, ORDER_UNSENT_STATUSES, IllegalTransition, OrderStatus

logger = logging.getLogger(__name__)

EXCHANGE_STATUS = {"open": OrderStatus.OPEN, "closed": OrderStatus.FILLED, "canceled": OrderStatus.CANCELLED}


class PlacementFailed(Exception):
    """The exchange refused the order for good; the order row is ``failed`` with its message."""


def exchange_text(exc: Exception) -> str:
    """The error as a trader should read it: the exchange's words, and the detail when there is more."""
    detail = getattr(exc, "exchange_message", "")
    return f"{exc} ({detail})" if detail and detail != str(exc) else str(exc)


# --- Placement -------------------------------------------------------------------------------


# An exchange's Retry-After above this is not waited for in one retry: five minutes keeps every
# countdown far inside Redis's one-hour visibility timeout (a longer one would hand the task to a
# second worker), and an order still refused after that fails with the exchange's words.
MAX_RETRY_AFTER_SECONDS = 300


def derivatives_flags(snapshot: dict, *, role: str, side: str) -> dict[str, Any]:
    """What a swap group's order carries besides its side and size (none for a spot group, whose orders reach
    the exchange exactly as before swaps): one-way mode, entries plain and every other order (take-profits,
    exits, reduces) ``reduce_only`` so an over-sell can never flip the position; hedge mode, the group's own
    leg (``position_side`` = the group's side) on entries and closes alike, never reduce_only; the margin mode
    on every order (OKX trades per order with it; the others ignore it)."""
    if snapshot.get("market_type") != "swap":
        return {}
    flags: dict[str, Any] = {}
    if snapshot.get("position_mode") == "hedge":
        opens_long = side == "buy"
        is_entry = role == Order.Role.ENTRY
        flags["position_side"] = "long" if opens_long == is_entry else "short"
    elif role != Order.Role.ENTRY:
        flags["reduce_only"] = True
    if snapshot.get("margin_mode"):
        flags["margin_mode"] = snapshot["margin_mode"]
    return flags


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
    if order.status not in ORDER_UNSENT_STATUSES:
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
        Order.objects.filter(pk=order.pk, status__in=ORDER_UNSENT_STATUSES).update(submitted_at=timezone.now())
    snapshot = PositionGroup.objects.values_list("config_snapshot", flat=True).get(pk=order.group_id)
    try:
        result = connector.place_order(
            symbol=order.symbol,
            side=order.side,
            type=order.order_type,
            amount=order.quantity,
            price=order.price if order.order_type == OrderType.LIMIT else None,
            client_order_id=order.client_order_id,
            is_retry=is_retry,
            **derivatives_flags(snapshot or {}, role=order.role, side=order.side),
        )
    except RetryableError as exc:
        _mark_unknown(order, exchange_text(exc))
        if final_attempt:
            logger.warning(
                "order %s: no answer after retries (%s); left unknown for the fill sync to look up",
                order.client_order_id,
                exchange_text(exc),
            )
            order.refresh_from_db()
            return order
        raise
    except PermanentError as exc:
        _fail(order, exchange_text(exc))
        if snapshot and snapshot.get("market_type") == "swap" and is_position_mode_refusal(exc):
            _position_mode_reread(order)
        raise PlacementFailed(exchange_text(exc)) from exc
    try:
        return order_apply_exchange_state(order, result, refresh_stats=refresh_stats, connector=connector)
    except IllegalTransition:  # StaleStatus included: the row moved while we were sending
        return _cancel_if_cancelled_meanwhile(order, connector)


def _position_mode_reread(order: Order) -> None:
    """The exchange says the order's position side does not fit the account's mode: the trader switched it.
    Read it again, so the groups that open from now on send what it calls for (this group keeps its own)."""
    account = ExchangeAccount.objects.get(
        pk=PositionGroup.objects.values_list("exchange_account_id", flat=True).get(pk=order.group_id)
    )
    try:
        mode = position_mode_refresh(account)
    except ExchangeError as exc:
        logger.warning("position mode of account %s not read again: %s", account.pk, exc)
        return
    logger.warning("order %s refused for its position side; the account's mode is now %s", order.client_order_id, mode)


def _mark_unknown(order: Order, reason: str) -> None:
    try:
        if order.status == OrderStatus.PENDING:
            order_transition(order, to=OrderStatus.UNKNOWN, reason=reason)
    except StaleStatus:
        pass


def _fail(order: Order, message: str) -> None:
    order.refresh_from_db()
    if order.status in ORDER_UNSENT_STATUSES:
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
        lock_group_of(order)
        Order.objects.filter(pk=order.pk, status=OrderStatus.CANCELLED).update(
            filled_quantity=state.filled,
            avg_fill_price=state.average,
            fee=state.fee,
            fee_currency=state.fee_currency,
            exchange_order_id=order.exchange_order_id or state.id or "",
            filled_at=timezone.now(),
            first_filled_at=order.first_filled_at or timezone.now(),
            updated_at=timezone.now(),
        )
        group_refresh_stats(group_id=order.group_id)
    logger.warning(
        "order %s was cancelled while being placed; it filled %s first, recorded", order.client_order_id, state.filled
    )


def order_cancel(order: Order, connector: Connector) -> Order:
    """Take an order off the exchange (an order already gone is fine) and record its final fill."""
    order.refresh_from_db()
    if order.status == OrderStatus.TRIGGER_PENDING or (
        order.status == OrderStatus.PENDING and order.submitted_at is None
    ):
        try:
            return order_transition(
                order,
                to=OrderStatus.CANCELLED,
                reason="cancelled before it was sent",
                where={"submitted_at__isnull": True},
            )
        except StaleStatus:
            order.refresh_from_db()  # a worker started sending it: cancel it on the exchange below
    if order.status not in ORDER_LIVE_STATUSES:
        return order
    result = _cancel_on_exchange(order, connector)
    if result is not None and result.status == "open":
        raise RetryableError(f"order {order.client_order_id} is still open after its cancel; try again")
    if result is None:
        # Never reached the exchange (or it forgot it): nothing can fill any more.
        order.refresh_from_db()
        if order.status in ORDER_LIVE_STATUSES:
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
    fields: dict[str, Any] = {
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


def order_apply_exchange_state(
    order: Order, state: ExchangeOrder, *, refresh_stats: bool = True, connector: Connector | None = None
) -> Order:
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
        lock_group_of(order)  # lock order: group, then order
        order = lock_order(order.pk)
        view = exchange_view(order, state)
        if view is None:
            return order
        target, fields = view
        if fee_rate is not None:
            fields["fee_rate"] = fee_rate
        if state.filled and order.order_type == OrderType.MARKET and order.decision_price and state.average:
            fields.update(_slippage(order, state.average))
        if target != order.status:
            order_transition(order, to=target, **fields)
            emit(
                "order_filled", group=order.group_id, order_id=order.pk, role=order.role
            ) if target == OrderStatus.FILLED else None
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
    if not state.fee or currency in ("", base_asset(order.symbol), quote_of(order.symbol)) or connector is None:
        return None
    if order.fee_rate is not None and currency == order.fee_currency:
        return None  # rated when its first fill was recorded
    try:
        return connector.ticker(f"{currency}/{quote_of(order.symbol)}").last
    except ExchangeError as exc:
        logger.warning(
            "order %s: fee in %s, no %s/%s price (%s); its cost is left out of PnL until rated",
            order.client_order_id,
            currency,
            currency,
            quote_of(order.symbol),
            exc,
        )
        return None


def _with_fee_from_trades(order: Order, state: ExchangeOrder, connector: Connector) -> ExchangeOrder:
    """``state`` with the fee its trades say was paid, or as it was when they cannot be had now (the
    fee is then filled in by a later sync: the fill itself is never held back)."""
    try:
        trades = connector.fetch_order_trades(
            symbol=order.symbol, id=state.id or order.exchange_order_id, client_order_id=order.client_order_id
        )
    except (ExchangeError, NotImplementedError) as exc:
        logger.warning("order %s: fee not in the answer and its trades unavailable (%s)", order.client_order_id, exc)
        return state
    by_currency = fees_by_currency((trade.fee, trade.fee_currency) for trade in trades)
    if not by_currency:
        return state
    if len(by_currency) > 1:
        logger.warning(
            "order %s paid fees in several currencies %s; recording the first", order.client_order_id, by_currency
        )
    currency, fee = next(iter(by_currency.items()))
    return replace(state, fee=fee, fee_currency=currency)


def _slippage(order: Order, fill_price: Decimal) -> dict:
    """Compare a market fill with the price when it was decided; over the limit is logged (``warn``)."""
    from trading.take_profit import slippage_percent

    assert order.decision_price is not None  # the caller compares only an order with one
    slipped = slippage_percent(order.side, order.decision_price, fill_price)
    limit = PositionGroup.objects.get(pk=order.group_id).config_snapshot.get("max_slippage_percent")
    outcome = Order.SlippageOutcome.WITHIN
    if limit not in (None, "") and slipped > Decimal(limit):
        outcome = Order.SlippageOutcome.WARNED
        logger.warning(
            "order %s filled at %s, %.3f%% worse than %s (limit %s%%)",
            order.client_order_id,
            fill_price,
            slipped,
            order.decision_price,
            limit,
        )
    return {"slippage_percent": slipped, "slippage_outcome": outcome}
