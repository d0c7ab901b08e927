"""The paper exchange behind the connector interface: one paper-mode ExchangeAccount.

It can also misbehave on purpose, for drills and tests (``ExchangeAccount.paper_faults``): answer
"unavailable" before accepting an order, accept an order and lose the answer (a timeout with the
order placed), or accept an order and kill the calling process before it can record it.
"""

import os
import signal
from datetime import datetime
from decimal import Decimal

from django.db import transaction

from exchanges.connector import (
    Balance, Connector, ExchangeOrder, Market, OrderStatusUnknown, PermanentError, RetryableError, Ticker,
)
from exchanges.models import ExchangeAccount, PaperOrder, PaperPrice
from exchanges.paper import services

FAULTS = ("unavailable", "lose_answer_after_accept", "kill_worker_after_accept")


def take_fault(account: ExchangeAccount, name: str) -> bool:
    """Consume one occurrence of fault ``name`` if any is armed (atomically, across processes)."""
    if not account.paper_faults:
        return False
    with transaction.atomic():
        row = ExchangeAccount.objects.select_for_update().get(pk=account.pk)
        left = int(row.paper_faults.get(name, 0) or 0)
        if left <= 0:
            return False
        row.paper_faults = {**row.paper_faults, name: left - 1}
        row.save(update_fields=["paper_faults"])
    return True


def to_exchange_order(order: PaperOrder) -> ExchangeOrder:
    return ExchangeOrder(
        id=str(order.pk), client_order_id=order.client_order_id, symbol=order.symbol, side=order.side,
        type=str(order.order_type), amount=order.amount, price=order.price, status=str(order.status),
        filled=order.filled, average=order.average, fee=order.fee, fee_currency=order.fee_currency,
        timestamp=order.created_at,
    )


class PaperConnector(Connector):
    def __init__(self, account: ExchangeAccount):
        self.account = account
        self.exchange_id = account.exchange_id
        self._markets: dict[str, Market] | None = None

    def load_markets(self, *, reload: bool = False) -> dict[str, Market]:
        if self._markets is None or reload:
            services.paper_markets_ensure(
                self.exchange_id, from_live=self.account.price_feed == ExchangeAccount.PriceFeed.LIVE
            )
            self._markets = services.paper_markets(self.exchange_id)
        return self._markets

    def ticker(self, symbol: str) -> Ticker:
        row = PaperPrice.objects.filter(exchange_id=self.exchange_id, symbol=symbol).first()
        if row is None:
            raise PermanentError(
                f"No paper price for {symbol} on {self.exchange_id} yet: set one with "
                f"`python manage.py paper price {self.exchange_id} {symbol} <price>`."
            )
        return Ticker(symbol=symbol, last=row.price, bid=row.price, ask=row.price, timestamp=row.updated_at)

    def tickers(self, symbols: list[str]) -> dict[str, Ticker]:
        rows = PaperPrice.objects.filter(exchange_id=self.exchange_id, symbol__in=symbols)
        return {row.symbol: Ticker(symbol=row.symbol, last=row.price, bid=row.price, ask=row.price,
                                   timestamp=row.updated_at) for row in rows}

    def create_order(
        self, *, symbol: str, side: str, type: str, amount: Decimal, price: Decimal | None, client_order_id: str
    ) -> ExchangeOrder:
        if take_fault(self.account, "unavailable"):
            raise RetryableError("Service unavailable (paper fault injected).")
        order = services.paper_order_create(
            account=self.account, symbol=symbol, side=side, order_type=type, amount=amount, price=price,
            client_order_id=client_order_id,
        )
        if take_fault(self.account, "kill_worker_after_accept"):
            os.kill(os.getpid(), signal.SIGKILL)  # the order is on the exchange; its caller never learns
        if take_fault(self.account, "lose_answer_after_accept"):
            raise OrderStatusUnknown("Timeout waiting for response from backend server. Send status unknown; "
                                     "execution status unknown. (paper fault injected)")
        return to_exchange_order(order)

    def cancel_order(self, *, symbol: str, id: str = "", client_order_id: str = "") -> ExchangeOrder | None:
        return to_exchange_order(services.paper_order_cancel(account=self.account, id=id, client_order_id=client_order_id))

    def fetch_order(self, *, symbol: str, id: str = "", client_order_id: str = "") -> ExchangeOrder:
        return to_exchange_order(services.paper_order_get(account=self.account, id=id, client_order_id=client_order_id))

    def fetch_open_orders(self, symbol: str) -> list[ExchangeOrder]:
        orders = PaperOrder.objects.filter(account=self.account, symbol=symbol, status=PaperOrder.Status.OPEN)
        return [to_exchange_order(order) for order in orders.order_by("pk")]

    def fetch_closed_orders(self, symbol: str, since: datetime | None = None) -> list[ExchangeOrder]:
        orders = PaperOrder.objects.filter(account=self.account, symbol=symbol).exclude(status=PaperOrder.Status.OPEN)
        if since is not None:
            orders = orders.filter(updated_at__gte=since)
        return [to_exchange_order(order) for order in orders.order_by("pk")]

    def balance(self) -> Balance:
        rows = services.paper_balances(self.account)
        return Balance(free={row.asset: row.free for row in rows}, used={row.asset: row.used for row in rows})
