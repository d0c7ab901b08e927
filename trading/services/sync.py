"""Fill sync: bring every live order of one (exchange account, symbol) up to the exchange's truth.

One cycle asks the exchange twice for the symbol — its open orders and its recently closed ones —
instead of once per order (polling one order every 5 s costs Binance 48 of its 6,000 weight a
minute, so per-order polling caps an installation at about 125 open orders). Only orders missing
from both answers are looked up one by one; one the exchange still cannot find stays ``unknown``
for ``UNKNOWN_GRACE_POLLS`` cycles before it is marked failed.
"""

import logging
from datetime import timedelta
from decimal import Decimal

from django.db.models import Min
from django.utils import timezone

from exchanges.connector import Connector, ExchangeError, OrderNotFound
from exchanges.currency import quote_of, rate_symbol
from exchanges.models import ExchangeAccount
from exchanges.services.accounts import connector_for_account
from trading.models import Order, PositionGroup, TakeProfitMode
from trading.services.fills import group_refresh_stats
from trading.services.lifecycle import group_evaluate
from trading.services.orders import MAX_RETRY_AFTER_SECONDS, exchange_view, order_apply_exchange_state
from trading.services.transitions import StaleStatus, order_transition
from trading.states import (
    GROUP_TERMINAL_STATUSES,
    ORDER_ENDED_STATUSES,
    ORDER_SYNCED_STATUSES,
    ORDER_TAKE_PROFIT_HOLDING,
    OrderStatus,
)
from trading.stats import ZERO, PositionStats

logger = logging.getLogger(__name__)

# Three cycles (15 s at the default 5 s interval): long enough for an exchange's eventual
# consistency after placement, short enough that a lost order is noticed within a minute.
UNKNOWN_GRACE_POLLS = 3
# A placement that met a timeout, a 5xx or a 429 leaves its row ``unknown`` and retries 1, 2 and 4 s
# later, or after the exchange's Retry-After (at most MAX_RETRY_AFTER_SECONDS), each attempt allowed
# ccxt's 10 s timeout. Until the next attempt is due (counted from the latest, ``submitted_at``) the
# placement task owns an unconfirmed order and "not found" is expected, so those polls do not count;
# otherwise a fast sync failed a leg its task was about to send (tests/stack, faults ``unavailable``
# and ``rate_limited``).
PLACEMENT_RETRY_WINDOW = timedelta(seconds=MAX_RETRY_AFTER_SECONDS + 60)


def symbol_sync(*, account_id: int, symbol: str, connector: Connector | None = None) -> int:
    """Apply the exchange's state of every live order of ``symbol``, then let each group whose orders
    changed act on it (take-profits, closes); returns how many groups changed."""
    account = ExchangeAccount.objects.get(pk=account_id)
    orders = list(
        Order.objects.filter(group__exchange_account=account, symbol=symbol, status__in=ORDER_SYNCED_STATUSES)
    )
    if not orders:
        return 0
    connector = connector or connector_for_account(account)
    oldest = Order.objects.filter(pk__in=[o.pk for o in orders]).aggregate(t=Min("created_at"))["t"]
    known = {o.client_order_id: o for o in connector.fetch_open_orders(symbol)}
    known.update(
        {o.client_order_id: o for o in connector.fetch_closed_orders(symbol, since=oldest - timedelta(minutes=1))}
    )
    changed_groups = set()
    for order in orders:
        state = known.get(order.client_order_id)
        if state is None:
            try:
                state = connector.fetch_order(symbol=symbol, client_order_id=order.client_order_id)
            except OrderNotFound:
                if _not_found(order):
                    changed_groups.add(order.group_id)
                continue
        if exchange_view(order, state) is None:
            continue
        # group_evaluate refreshes the statistics below; the connector is asked for fees a query lacks.
        order_apply_exchange_state(order, state, refresh_stats=False, connector=connector)
        changed_groups.add(order.group_id)
    for group_id in sorted(changed_groups, key=str):
        group_evaluate(group_id=group_id, connector=connector)
    return len(changed_groups)


def _not_found(order: Order) -> int:
    placing = order.status == OrderStatus.UNKNOWN and not order.exchange_order_id
    if placing and order.submitted_at and timezone.now() - order.submitted_at < PLACEMENT_RETRY_WINDOW:
        return 0  # its placement task is still retrying: the exchange may well not have it yet
    polls = order.unknown_polls + 1
    try:
        if polls >= UNKNOWN_GRACE_POLLS:
            order_transition(order, to=OrderStatus.UNKNOWN) if order.status != OrderStatus.UNKNOWN else None
            order_transition(
                order,
                to=OrderStatus.FAILED,
                unknown_polls=polls,
                reason=f"The exchange did not know this order in {polls} consecutive syncs.",
            )
            group_refresh_stats(group_id=order.group_id)
            return 1
        if order.status != OrderStatus.UNKNOWN:
            order_transition(order, to=OrderStatus.UNKNOWN, unknown_polls=polls)
        else:
            Order.objects.filter(pk=order.pk).update(unknown_polls=polls, updated_at=timezone.now())
    except StaleStatus:
        return 0
    return 0


def prices_sync(*, account_id: int, connector: Connector | None = None) -> int:
    """One ticker call for every symbol the account holds; stores each group's current price and
    evaluates it at that price (unrealised PnL, market entries, stop loss, aggregate targets)."""
    account = ExchangeAccount.objects.get(pk=account_id)
    groups = PositionGroup.objects.filter(exchange_account=account).exclude(status__in=GROUP_TERMINAL_STATUSES)
    symbols = sorted(set(groups.values_list("symbol", flat=True)))
    if not symbols:
        return 0
    connector = connector or connector_for_account(account)
    tickers = connector.tickers(symbols)
    rates = _usd_rates(connector, {quote_of(symbol) for symbol in symbols})
    for group in groups:
        rate = rates.get(quote_of(group.symbol))
        if rate is not None and rate != group.quote_usd_rate:
            PositionGroup.objects.filter(pk=group.pk).update(quote_usd_rate=rate)
        ticker = tickers.get(group.symbol)
        if ticker is None:
            continue
        stats = PositionStats(
            group.side,
            group.total_filled_quantity,
            group.weighted_avg_entry,
            group.total_invested_usd,
            group.realized_pnl_usd,
            group.fees_usd,
            ZERO,
            ZERO,
        )
        unrealized_usd, unrealized_percent = stats.unrealized(ticker.last)
        if (ticker.last, unrealized_usd) != (group.current_price, group.unrealized_pnl_usd):
            PositionGroup.objects.filter(pk=group.pk).update(
                current_price=ticker.last, unrealized_pnl_usd=unrealized_usd, unrealized_pnl_percent=unrealized_percent
            )
        if _price_matters(group):
            group_evaluate(group_id=group.pk, connector=connector)
    return len(tickers)


def _usd_rates(connector: Connector, quotes: set[str]) -> dict[str, Decimal]:
    """USD per unit of each non-USD quote (``exchanges.currency``), in one more ticker call when there is
    one; a quote whose market cannot be read keeps its last rate (and the price sync goes on)."""
    wanted = {symbol: quote for quote in quotes if (symbol := rate_symbol(quote)) is not None}  # None: USD already
    if not wanted:
        return {}
    try:
        tickers = connector.tickers(sorted(wanted))
    except ExchangeError as exc:
        logger.warning("no USD rate for %s: %s", ", ".join(sorted(wanted.values())), exc)
        return {}
    return {wanted[symbol]: ticker.last for symbol, ticker in tickers.items() if symbol in wanted and ticker.last}


def _price_matters(group: PositionGroup) -> bool:
    """Whether anything of this group acts on price: targets, stops, waiting market entries, or a
    take-profit still to place (retried each cycle). A plain per-leg grid with its take-profits on the
    exchange needs only its new price stored."""
    if (
        group.tp_mode != TakeProfitMode.PER_LEG
        or group.stop_loss_price
        or group.config_snapshot.get("stop_loss_percent")
    ):
        return True
    entries = group.orders.filter(role=Order.Role.ENTRY)
    return (
        entries.filter(status=OrderStatus.TRIGGER_PENDING).exists()
        or entries.filter(filled_quantity__gt=0, status__in=ORDER_ENDED_STATUSES)
        .exclude(take_profits__status__in=ORDER_TAKE_PROFIT_HOLDING)
        .exists()
    )
