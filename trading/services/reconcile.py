"""Reconciliation: the exchange's open orders carrying our client-id prefix versus the database.

Run when a worker starts and on a schedule. An open order with our prefix that the database does
not know (or knows as cancelled/failed) is cancelled on the exchange and recorded; an order the
database thinks open but the exchange has closed is brought up to date by the fill sync. Nothing
orphaned, nothing doubled: every order we send has a committed row first, so an unknown one can
only come from a lost transaction or another installation sharing the prefix.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from exchanges.connector import Connector, OrderNotFound
from exchanges.models import ExchangeAccount
from exchanges.services.accounts import connector_for_account
from trading import journal
from trading.models import Order, PositionGroup
from trading.services.orders import order_apply_exchange_state
from trading.services.sync import symbol_sync
from trading.states import ORDER_DEAD_STATUSES, ORDER_SYNCED_STATUSES, ORDER_UNSENT_STATUSES

logger = logging.getLogger(__name__)

# Symbols traded in the last week are checked: an order of ours can only rest on one of them.
LOOKBACK = timedelta(days=7)


@dataclass(frozen=True)
class ReconcileResult:
    symbols: int
    orphans_cancelled: int
    adopted: int


def account_reconcile(*, account_id: int, connector: Connector | None = None) -> ReconcileResult:
    account = ExchangeAccount.objects.select_related("user").get(pk=account_id)
    connector = connector or connector_for_account(account)
    prefix = settings.CLIENT_ORDER_ID_PREFIX
    recent = PositionGroup.objects.filter(exchange_account=account, updated_at__gte=timezone.now() - LOOKBACK)
    symbols = set(recent.values_list("symbol", flat=True)) | set(
        Order.objects.filter(group__exchange_account=account, status__in=ORDER_SYNCED_STATUSES).values_list(
            "symbol", flat=True
        )
    )
    orphans = adopted = 0
    for symbol in sorted(symbols):
        for state in connector.fetch_open_orders(symbol):
            if not state.client_order_id.startswith(prefix):
                continue  # the trader's own manual orders are none of our business
            order = Order.objects.filter(client_order_id=state.client_order_id, group__exchange_account=account).first()
            if order is None or order.status in ORDER_DEAD_STATUSES:
                orphans += _cancel_orphan(account, connector, state, order)
            elif order.status in ORDER_UNSENT_STATUSES:
                order_apply_exchange_state(order, state, connector=connector)  # sent, the answer never recorded
                adopted += 1
        symbol_sync(account_id=account.pk, symbol=symbol, connector=connector)
    return ReconcileResult(len(symbols), orphans, adopted)


def _cancel_orphan(account, connector: Connector, state, order: Order | None) -> int:
    try:
        connector.cancel_order(symbol=state.symbol, id=state.id, client_order_id=state.client_order_id)
    except OrderNotFound:
        return 0
    known = f"known to the database as {order.status}" if order else "unknown to the database"
    logger.warning(
        "reconciliation cancelled %s %s %s %s @ %s on %s (%s)",
        state.client_order_id,
        state.side,
        state.amount,
        state.symbol,
        state.price,
        account.exchange_id,
        known,
    )
    journal.orphan_cancelled(account, state, order)
    return 1


def reconcile_all() -> list[ReconcileResult]:
    results = []
    for account in ExchangeAccount.objects.filter(is_enabled=True):
        try:
            results.append(account_reconcile(account_id=account.pk))
        except Exception:  # one unreachable exchange must not stop the others
            logger.exception("reconciliation of account %s failed", account.pk)
    return results
