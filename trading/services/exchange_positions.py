"""Positions from the exchange: a swap account's positions against what its groups expect to hold.

Once per fill-sync cycle and swap account (``trading.tasks.sync_positions_task``): one positions read for
the account's symbols. Each group's liquidation price and margin ratio are refreshed from its position.
A position gone or smaller than its groups expect means the exchange closed it (a liquidation) or a trader
did by hand: the engine would otherwise keep "holding", and its resting take-profits would open fresh
positions. Those groups are closed with reason liquidated / closed on exchange
(``trading.services.closing.position_lost_close``).

Hostile ground; what is done about it:

- A fill between the engine's view of the orders and the positions read makes the exchange look smaller
  (a take-profit filled) or larger (an entry filled). A suspected shortfall is confirmed: the positions are
  read a second time (an answer that left a position out is not believed alone), the symbol's orders are
  synced again from the exchange after both reads, and the shortfall must remain against
  ``trading.positions_check.confirmed_expected`` (the holding before the read less every exit fill found
  since): no interleaving of fills and reads can then fake it.
- A unit with a group whose orders are unconfirmed (``unknown``) or being placed (``pending``), or a group
  not yet live or already closing, is skipped this cycle: its expected size is not known.
- A positions answer may lag the orders' (an exchange answering late): entry fills recorded in the last
  ``FRESH_FILL_SECONDS`` do not count towards a shortfall (it is noticed a few seconds later instead).
- A shortfall confirmed that way is acted on at once only when the exchange's order history shows what
  made it: a filled order on the symbol that no group sent, on the side that reduces the position (a
  trader's close by hand; a liquidation, whose order Binance and the paper exchange name ``autoclose-…``),
  since the position was last seen (one-way mode: a hedge-mode order does not say its leg). Its price
  and fee then are the group's exit, not an estimate. Without such an order (an answer that leaves a
  position out, even twice in a row; a liquidation the history does not list) the shortfall must still be
  there in a later cycle, ``SHORTFALL_CONFIRM_SECONDS`` on, before anything is cancelled.
- A position larger than expected is only logged.
- Several groups on one position (one-way mode): all close when the position is gone; when it is smaller,
  the newest close first until what the others expect fits.
"""

import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Q, Sum
from django.utils import timezone

from exchanges.connector import Connector, ExchangeError, ExchangeOrder, Position, fees_by_currency
from exchanges.enums import OrderSide
from exchanges.models import ExchangeAccount
from exchanges.services.accounts import connector_for_account
from trading.liquidation import liquidation_price
from trading.models import ExitReason, Order, PositionGroup
from trading.positions_check import (
    Held,
    Unit,
    confirmed_expected,
    groups_to_close,
    held_on_exchange,
    longer_than,
    lost_reason,
    matching_position,
    short_of,
    unit_of,
)
from trading.services.closing import position_lost_close
from trading.services.fills import held_quantity
from trading.services.sync import symbol_sync
from trading.states import GROUP_ACTIVE_STATUSES, GROUP_TRADING_STATUSES, ORDER_UNSENT_STATUSES, GroupStatus

logger = logging.getLogger(__name__)
ZERO = Decimal(0)
# An entry fill recorded this recently may not be in a positions answer yet (some exchanges' positions lag their
# orders by a moment): it does not count towards a shortfall until then. Three cycles at the default 5 s.
FRESH_FILL_SECONDS = 15
# A shortfall no order in the exchange's history explains is believed only when a later cycle still sees it,
# this long after the first (the sync runs every 5 s): one answer leaving a position out, or two in a row within
# one cycle, close nothing.
SHORTFALL_CONFIRM_SECONDS = 4
# The exchange's closing order may have been created a little before the position was last seen.
HISTORY_SLACK = timedelta(minutes=1)
LIQUIDATION_ORDER_PREFIX = "autoclose-"


@dataclass(frozen=True)
class ExchangeClose:
    """What the exchange's own orders (no group sent them) took off a position: quantity, average price, fee."""

    quantity: Decimal
    average: Decimal | None
    fee: Decimal
    fee_currency: str
    liquidation: bool


def positions_sync(*, account_id: int, connector: Connector | None = None) -> int:
    """Compare a swap account's positions with its groups and close the groups the exchange no longer holds;
    returns how many closed. A spot account is not asked anything."""
    account = ExchangeAccount.objects.get(pk=account_id)
    if account.market_type != ExchangeAccount.MarketType.SWAP:
        return 0
    groups = list(PositionGroup.objects.filter(exchange_account=account, status__in=GROUP_ACTIVE_STATUSES))
    if not groups:
        return 0
    connector = connector or connector_for_account(account)
    units: dict[Unit, list[PositionGroup]] = defaultdict(list)
    for group in groups:
        units[_unit(group)].append(group)
    before = {group.pk: _snapshot(group) for group in groups}  # the engine's view, taken before the read
    positions = connector.fetch_positions(sorted({group.symbol for group in groups}))
    _store(groups, units, positions)
    closed = 0
    for unit, members in units.items():
        if not all(before[group.pk][2] for group in members):
            continue  # unconfirmed or in-flight orders, or a group not live: not knowable this cycle
        expected = sum((before[group.pk][0] for group in members), ZERO)
        on_exchange = held_on_exchange(positions, unit)
        tolerance = _tolerance(connector, unit.symbol)
        if longer_than(expected, on_exchange, tolerance):
            logger.info(
                "account %s holds %s on %s, more than its groups expect (%s): left alone",
                account_id,
                on_exchange,
                unit,
                expected,
            )
            continue
        if short_of(expected, on_exchange, tolerance):
            closed += _confirm_and_close(account_id, connector, unit, members, before, on_exchange, tolerance)
        else:
            _shortfall_forget(account_id, unit)
    return closed


def _unit(group: PositionGroup) -> Unit:
    return unit_of(group.symbol, group.side, group.config_snapshot.get("position_mode", "one_way"))


def _snapshot(group: PositionGroup) -> tuple[Decimal, Decimal, bool]:
    """(net filled base quantity, exit quantity filled, whether the group can be checked now)."""
    group.refresh_from_db(fields=["status"])
    checkable = (
        group.status in GROUP_TRADING_STATUSES and not group.orders.filter(status__in=ORDER_UNSENT_STATUSES).exists()
    )
    exits = group.orders.filter(~Q(role=Order.Role.ENTRY)).aggregate(q=Sum("filled_quantity"))["q"] or ZERO
    return held_quantity(group), exits, checkable


def _fresh_entries(group: PositionGroup) -> Decimal:
    """Entry quantity of legs whose fill was recorded in the last FRESH_FILL_SECONDS (all of such a leg's fill:
    which part is new is not known)."""
    since = timezone.now() - timedelta(seconds=FRESH_FILL_SECONDS)
    fresh = group.orders.filter(role=Order.Role.ENTRY, filled_quantity__gt=0, updated_at__gte=since)
    return fresh.aggregate(q=Sum("filled_quantity"))["q"] or ZERO


def _tolerance(connector: Connector, symbol: str) -> Decimal:
    """One amount step of the market: rounding, and a fee the exchange took in the base asset."""
    try:
        return connector.market(symbol).step_size
    except ExchangeError:
        return ZERO


def _store(groups: list[PositionGroup], units: dict[Unit, list[PositionGroup]], positions: list[Position]) -> None:
    """Each group's liquidation price and margin ratio from its position, and when its position was last read
    (the last known values and time stay when the position, or a field, is missing: ``liquidation_now`` tells
    from them whether entries filled after the exchange last reported the liquidation price)."""
    now = timezone.now()
    for unit, members in units.items():
        position = matching_position(positions, unit)
        if position is None:
            continue
        fields: dict = {"positions_synced_at": now}
        if position.liquidation_price is not None:
            fields["liquidation_price"] = position.liquidation_price
        if position.margin_ratio is not None:
            fields["margin_ratio"] = position.margin_ratio
        PositionGroup.objects.filter(pk__in=[group.pk for group in members]).update(**fields)


def _confirm_and_close(
    account_id: int,
    connector: Connector,
    unit: Unit,
    members: list[PositionGroup],
    before: dict,
    on_exchange: Decimal,
    tolerance: Decimal,
) -> int:
    """A shortfall seen once: read the position again, sync the symbol's orders after both reads, and close
    what the exchange still does not hold against the confirmed expectation."""
    second = held_on_exchange(connector.fetch_positions([unit.symbol]), unit)
    on_exchange = max(on_exchange, second)  # a read that left the position out is not believed alone
    symbol_sync(account_id=account_id, symbol=unit.symbol, connector=connector)
    held: list[Held] = []
    for group in members:
        _, exits_after, checkable = _snapshot(group)
        if not checkable and group.status in GROUP_TRADING_STATUSES:
            return 0  # an order went unknown in the re-sync: next cycle
        held_before, exits_before, _ = before[group.pk]
        quantity = (
            confirmed_expected(held_before, exits_before, exits_after, _fresh_entries(group)) if checkable else ZERO
        )
        held.append(Held(group.pk, quantity, group.created_at))
    expected = sum((h.quantity for h in held), ZERO)
    if not short_of(expected, on_exchange, tolerance):
        logger.info(
            "%s: the shortfall was fills the engine had not seen yet (%s held, %s expected)",
            unit,
            on_exchange,
            expected,
        )
        _shortfall_forget(account_id, unit)
        return 0
    closed_by = _closed_by_exchange(account_id, connector, unit, members)
    if closed_by is None and not _shortfall_lasted(account_id, unit):
        logger.info(
            "%s: the exchange holds %s of the %s its groups expect and its history shows no order that closed it; "
            "acting if a later cycle still sees it",
            unit,
            on_exchange,
            expected,
        )
        return 0
    _shortfall_forget(account_id, unit)
    closing = groups_to_close(held, on_exchange, tolerance)
    kept = expected - sum((h.quantity for h in closing), ZERO)
    unmanaged = max(on_exchange - kept, ZERO)
    price = _price(connector, unit.symbol)
    by_id = {group.pk: group for group in members}
    closed = 0
    for lost in closing:
        group = by_id[lost.group_id]
        group.refresh_from_db(fields=["liquidation_price", "current_price", "positions_synced_at"])
        liquidation = liquidation_now(group)
        if liquidation != group.liquidation_price:
            PositionGroup.objects.filter(pk=group.pk).update(liquidation_price=liquidation)
        reason = lost_reason(group.side, price or group.current_price, liquidation)
        if closed_by is not None and closed_by.liquidation:
            reason = ExitReason.LIQUIDATED
        logger.warning(
            "%s: the exchange holds %s of the %s its groups expect; closing group %s (%s)",
            unit,
            on_exchange,
            expected,
            group.pk,
            reason,
        )
        try:
            result = position_lost_close(
                group_id=group.pk,
                reason=reason,
                connector=connector,
                expected=lost.quantity,
                on_exchange=on_exchange,
                unmanaged=unmanaged,
                price=price or group.current_price,
                closed_at=_priced(closed_by),
            )
        except ExchangeError as exc:
            # A cancel without an answer: the group stays closing; recovery re-sends its close (it comes back to
            # position_lost_close through position_close) and the other positions are still judged.
            logger.warning("closing group %s the exchange no longer holds failed: %s", group.pk, exc)
            continue
        closed += result.status == GroupStatus.CLOSED
    return closed


def _shortfall_key(account_id: int, unit: Unit) -> str:
    return f"positions-shortfall:{account_id}:{unit.symbol}:{unit.leg}"


def _shortfall_lasted(account_id: int, unit: Unit) -> bool:
    """Whether an earlier cycle, SHORTFALL_CONFIRM_SECONDS ago or more, saw this shortfall too (the first
    sighting is remembered in the cache, shared by every worker)."""
    key = _shortfall_key(account_id, unit)
    now = time.time()
    first = cache.get(key)
    if first is None:
        cache.set(key, now, timeout=3600)
        return False
    return now - first >= SHORTFALL_CONFIRM_SECONDS


def _shortfall_forget(account_id: int, unit: Unit) -> None:
    cache.delete(_shortfall_key(account_id, unit))


def _closed_by_exchange(
    account_id: int, connector: Connector, unit: Unit, members: list[PositionGroup]
) -> ExchangeClose | None:
    """The filled orders on the symbol that no group of the engine sent, on the side that reduces the unit's
    position, since it was last seen (less HISTORY_SLACK): a trader's close by hand, or a liquidation. None in
    hedge mode (an order does not say which leg it closed), when there is none, or when the history cannot be
    read."""
    if unit.leg:
        return None
    seen = [group.positions_synced_at or group.created_at for group in members]
    since = min(seen) - HISTORY_SLACK
    try:
        history = connector.fetch_closed_orders(unit.symbol, since=since)
    except ExchangeError as exc:
        logger.warning("%s: the order history was not read (%s)", unit, exc)
        return None
    reducing = OrderSide.SELL if unit.side == "long" else OrderSide.BUY
    candidates = [
        order
        for order in history
        if order.side == reducing and order.filled > 0 and (order.timestamp is None or order.timestamp >= since)
    ]
    ids = [order.client_order_id for order in candidates if order.client_order_id]
    ours = set(
        Order.objects.filter(group__exchange_account_id=account_id, client_order_id__in=ids).values_list(
            "client_order_id", flat=True
        )
    )
    foreign = [order for order in candidates if not order.client_order_id or order.client_order_id not in ours]
    if not foreign:
        return None
    quantity = sum((order.filled for order in foreign), ZERO)
    priced = all(order.average for order in foreign)
    average = sum((order.filled * (order.average or ZERO) for order in foreign), ZERO) / quantity if priced else None
    fee, fee_currency = _fees(connector, unit.symbol, foreign)
    return ExchangeClose(
        quantity=quantity,
        average=average,
        fee=fee,
        fee_currency=fee_currency,
        liquidation=any(order.client_order_id.startswith(LIQUIDATION_ORDER_PREFIX) for order in foreign),
    )


def _fees(connector: Connector, symbol: str, orders: list[ExchangeOrder]) -> tuple[Decimal, str]:
    """The orders' fees in one currency (their trades asked when the order answer has none, as Binance's
    queries do); (0, "") when they are not known or not in one currency."""
    fees: list[tuple[Decimal, str]] = []
    for order in orders:
        if order.fee_reported:
            fees.append((order.fee, order.fee_currency))
            continue
        try:
            trades = connector.fetch_order_trades(symbol=symbol, id=order.id, client_order_id=order.client_order_id)
        except ExchangeError:
            return ZERO, ""
        fees.extend((trade.fee, trade.fee_currency) for trade in trades)
    charged = {currency: total for currency, total in fees_by_currency(fees).items() if total}
    if len(charged) != 1:
        return ZERO, ""
    [(currency, total)] = charged.items()
    return total, currency


def _priced(closed_by: ExchangeClose | None) -> tuple[Decimal, Decimal, Decimal, str] | None:
    """(quantity, average price, fee, fee currency) of the exchange's closing orders, when their price is known."""
    if closed_by is None or closed_by.average is None:
        return None
    return closed_by.quantity, closed_by.average, closed_by.fee, closed_by.fee_currency


def liquidation_now(group: PositionGroup) -> Decimal | None:
    """Where the group's position was liquidated: the price the exchange last reported, unless entries filled
    after that report (a fall that fills legs and liquidates within one cycle moves it closer) — then the
    engine's estimate for what the group held (``trading.liquidation``: isolated formula, default tiers)."""
    since = group.positions_synced_at
    entries_since = Order.objects.filter(group=group, role=Order.Role.ENTRY, filled_quantity__gt=0)
    if since is not None and group.liquidation_price and not entries_since.filter(filled_at__gt=since).exists():
        return group.liquidation_price
    group.refresh_from_db(fields=["weighted_avg_entry"])
    held, average = held_quantity(group), group.weighted_avg_entry
    if held <= 0 or not average:
        return group.liquidation_price
    snapshot = group.config_snapshot or {}
    estimate = liquidation_price(
        side=group.side,
        quantity=held,
        average_entry=average,
        leverage=int(snapshot.get("leverage") or 1),
        margin_mode=snapshot.get("margin_mode") or "isolated",
    )
    return estimate or group.liquidation_price


def _price(connector: Connector, symbol: str) -> Decimal | None:
    try:
        return connector.ticker(symbol).last
    except ExchangeError:
        return None
