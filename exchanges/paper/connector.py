"""The paper exchange behind the connector interface: one paper-mode ExchangeAccount.

It can also misbehave on purpose, for drills and tests (``ExchangeAccount.paper_faults``, a count
per fault kind, each occurrence consumed once across all processes; armed by an operator with
``manage.py paper fault`` and acted on only where ``PAPER_FAULTS_ALLOWED`` is on, see ``drills``):

- ``unavailable``: answer "unavailable" (an HTTP 5xx) before accepting an order;
- ``rate_limited``: answer 429 with ``Retry-After: 10`` before accepting an order, and keep answering
  429 (with the seconds left) to every order sent before those 10 s are over, as Binance does;
- ``lose_answer_after_accept``: accept an order and lose the answer (a timeout with the order placed);
- ``kill_worker_before_accept``: kill the calling process as it sends an order (its row is committed
  and claimed, nothing reaches the exchange);
- ``kill_worker_after_accept``: accept an order and kill the calling process before it can record it;
- ``order_not_found``: the next order lookups (``fetch_order``, ``fetch_open_orders``,
  ``fetch_closed_orders``; one occurrence each) do not see any order yet, as an exchange that is
  eventually consistent right after placement.

and, as a rate rather than a count (for soaks): ``lose_answer_rate`` (0 to 1), the share of
accepted orders whose answer is lost, drawn at random for each placement and never used up.

A paper account with ``market_type`` swap trades the paper linear perpetuals: positions, leverage, margin,
reduce-only and hedge-mode orders, and what is not modelled yet, are described in ``exchanges.paper.swaps``.
Amounts cross this interface in the base asset and are counted in contracts inside the paper exchange.
"""

import os
import random
import signal
import time
from dataclasses import replace
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from django.db import transaction

from exchanges.candles import STANDARD_INTERVALS, Candle, bucket_start, resample
from exchanges.connector import (
    BadSymbol,
    Balance,
    Connector,
    ExchangeOrder,
    FundingPayment,
    InvalidOrder,
    Market,
    MarketsNotLoaded,
    OrderNotFound,
    OrderStatusUnknown,
    PermanentError,
    Position,
    RateLimited,
    RetryableError,
    Ticker,
    Trade,
)
from exchanges.models import ExchangeAccount, PaperFunding, PaperMarket, PaperOrder
from exchanges.paper import funding, liquidation, services, swaps
from exchanges.paper.candles import account_candles
from exchanges.paper.drills import LOSE_ANSWER_RATE, RATE_LIMITED_UNTIL, armed_faults
from exchanges.paper.selectors import PaperQuote, account_quotes
from exchanges.symbols import resolve_tv_symbol
from exchanges.tiers import MarginTier

# The paper exchange's answer to a client order id already used (Binance's words).
DUPLICATE_ORDER = "Duplicate order sent."
SPOT_ACCOUNT = "This is a spot account: positions, leverage and margin mode are for swap accounts."
# What the ``rate_limited`` fault asks the caller to wait, like Binance's Retry-After header; longer
# than the placement task's own backoff (1 + 2 + 4 s), so only a caller that honours it gets through.
RATE_LIMITED_RETRY_AFTER_SECONDS = 10.0
# ccxt reports a position's margin ratio to 4 places (binance and bybit parse_position).
RATIO_PLACES = Decimal("0.0001")


def take_fault(account: ExchangeAccount, name: str) -> bool:
    """Consume one occurrence of fault ``name`` if any is armed (atomically, across processes)."""
    if not armed_faults(account):
        return False
    with transaction.atomic():
        row = ExchangeAccount.objects.select_for_update().get(pk=account.pk)
        left = int(row.paper_faults.get(name, 0) or 0)
        if left <= 0:
            return False
        row.paper_faults = {**row.paper_faults, name: left - 1}
        row.save(update_fields=["paper_faults"])
    return True


def rate_limit_left(account: ExchangeAccount) -> float:
    """Seconds left of a ban the ``rate_limited`` fault started; 0 when there is none."""
    if not armed_faults(account):
        return 0.0
    faults = ExchangeAccount.objects.filter(pk=account.pk).values_list("paper_faults", flat=True).first() or {}
    return max(0.0, float(faults.get(RATE_LIMITED_UNTIL, 0) or 0) - time.time())


def rate_limit_start(account: ExchangeAccount) -> None:
    with transaction.atomic():
        row = ExchangeAccount.objects.select_for_update().get(pk=account.pk)
        row.paper_faults = {**row.paper_faults, RATE_LIMITED_UNTIL: time.time() + RATE_LIMITED_RETRY_AFTER_SECONDS}
        row.save(update_fields=["paper_faults"])


def to_exchange_order(order: PaperOrder, contract_size: Decimal = Decimal(1)) -> ExchangeOrder:
    """``order`` as the connector speaks of it: a swap order's contracts as base units (``contract_size``)."""
    return ExchangeOrder(
        id=str(order.pk),
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=order.side,
        type=str(order.order_type),
        amount=(order.amount * contract_size).normalize() if contract_size != 1 else order.amount,
        price=order.price,
        status=str(order.status),
        filled=(order.filled * contract_size).normalize() if contract_size != 1 else order.filled,
        average=order.average,
        fee=order.fee,
        fee_currency=order.fee_currency,
        timestamp=order.created_at,
    )


# --- Dialects: the shapes real exchanges answer in (ExchangeAccount.paper_dialect, an operator setting) ---


def as_queried(order: ExchangeOrder, dialect: str) -> ExchangeOrder:
    """An order as a lookup or a listing returns it: Binance's queries carry no commission."""
    if dialect == "binance":
        return replace(order, fee=Decimal(0), fee_currency="")
    return order


def as_placed(order: ExchangeOrder, dialect: str) -> ExchangeOrder:
    """An order as the placement answer returns it. Bybit (spot and linear alike: POST /v5/order/create)
    answers with ids only (the ccxt connector reads that as accepted: open, nothing filled, no fee).
    Binance spot's answer (ccxt asks newOrderRespType FULL) carries the fills and their fees. Binance USDⓈ-M
    (POST /fapi/v1/order, a perpetual: its symbol names a settle asset; ccxt asks newOrderRespType RESULT)
    answers the order's state after matching (status, executedQty, avgPrice) without any commission, as
    its queries do (ccxt binance.json, createOrders "create swap orders"): the fee is in the trades."""
    if dialect == "bybit":
        return replace(order, status="open", filled=Decimal(0), average=None, fee=Decimal(0), fee_currency="")
    if dialect == "binance" and ":" in order.symbol:
        return as_queried(order, dialect)
    return order


def as_position(position: Position, dialect: str) -> Position:
    """A position as ``fetch_positions`` reads it through ccxt from each exchange's answer.

    binance (GET /fapi/v3/positionRisk, ccxt binance.json fetchPositions "Fetch linear positions"): no
    leverage in the answer (ccxt parses null); a margin ratio of maintMargin / (isolatedMargin or the
    cross wallet + unrealised PnL) that ccxt rounds half up to 4 places; a liquidation price "0" when there is
    none, which ccxt reads as none. bybit (GET /v5/position/list, bybit.json fetchPositions "Fetch linear
    position"; tests/exchanges/recorded/bybit_position_list.json): liqPrice "" when there is none (ccxt:
    none); positionMM / (positionBalance + unrealisedPnl) that ccxt cuts to 4 places; no margin mode on a
    unified account's position (its mode is account-wide). plain: everything, unrounded."""
    if dialect == "binance":
        ratio = position.margin_ratio
        if ratio is not None:
            ratio = ratio.quantize(RATIO_PLACES, rounding=ROUND_HALF_UP)
        return replace(position, leverage=None, margin_ratio=ratio)
    if dialect == "bybit":
        ratio = position.margin_ratio
        if ratio is not None:
            ratio = ratio.quantize(RATIO_PLACES, rounding=ROUND_DOWN)
        return replace(position, margin_mode="", margin_ratio=ratio)
    return position


def _ticker(quote: PaperQuote) -> Ticker:
    return Ticker(symbol=quote.symbol, last=quote.price, bid=quote.price, ask=quote.price, timestamp=quote.updated_at)


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

    def loaded_market(self, symbol: str) -> Market:
        live = self.account.price_feed == ExchangeAccount.PriceFeed.LIVE
        if live and not PaperMarket.objects.filter(exchange_id=self.exchange_id).exists():
            # A live feed seeds its markets from the real exchange on first use: not in a web request.
            raise MarketsNotLoaded(
                f"The paper {self.exchange_id} market list is not loaded yet: the first order or price update loads it."
            )
        return self.market(symbol)

    def resolve_symbol(self, tv_symbol: str) -> str:
        return resolve_tv_symbol(
            tv_symbol, self.load_markets(), exchange_id=self.exchange_id, market_type=self.account.market_type
        )

    # The account's own price for a symbol when it set one, else the shared price (selectors.account_quotes).
    def ticker(self, symbol: str) -> Ticker:
        quote = account_quotes(self.account, [symbol]).get(symbol)
        if quote is None:
            raise PermanentError(
                f"No paper price for {symbol} on {self.exchange_id} yet: set one with "
                f"`python manage.py paper price {self.exchange_id} {symbol} <price>`."
            )
        return _ticker(quote)

    def tickers(self, symbols: list[str]) -> dict[str, Ticker]:
        return {symbol: _ticker(quote) for symbol, quote in account_quotes(self.account, symbols).items()}

    def price_seen(self, symbol: str, price: Decimal) -> None:
        services.paper_price_seed(account=self.account, symbol=symbol, price=price)

    def _contract_size(self, symbol: str) -> Decimal:
        if ":" not in symbol:
            return Decimal(1)
        return self.market(symbol).contract_size

    def _order(self, order: PaperOrder) -> ExchangeOrder:
        return to_exchange_order(order, self._contract_size(order.symbol))

    def create_order(
        self,
        *,
        symbol: str,
        side: str,
        type: str,
        amount: Decimal,
        price: Decimal | None,
        client_order_id: str,
        reduce_only: bool = False,
        position_side: str | None = None,
        margin_mode: str | None = None,
    ) -> ExchangeOrder:
        contract_size = self._contract_size(symbol)
        contracts = amount / contract_size
        if take_fault(self.account, "kill_worker_before_accept"):
            os.kill(os.getpid(), signal.SIGKILL)  # dies with the order committed and claimed, never sent
        if take_fault(self.account, "unavailable"):
            raise RetryableError("Service unavailable (paper fault injected).")
        banned_for = rate_limit_left(self.account)
        if not banned_for and take_fault(self.account, "rate_limited"):
            rate_limit_start(self.account)
            banned_for = RATE_LIMITED_RETRY_AFTER_SECONDS
        if banned_for:
            raise RateLimited(
                f"Too many requests; retry after {banned_for:.0f} s (paper fault injected).", retry_after=banned_for
            )
        try:
            order = services.paper_order_create(
                account=self.account,
                symbol=symbol,
                side=side,
                order_type=type,
                amount=contracts,
                price=price,
                client_order_id=client_order_id,
                reduce_only=reduce_only,
                position_side=position_side,
                margin_mode=margin_mode,
            )
        except InvalidOrder as exc:
            if str(exc) != DUPLICATE_ORDER:
                raise
            # As the ccxt connector reads Binance's -2010: the id is taken, so an earlier attempt of this
            # very order got through; the caller looks it up instead of failing a leg that is on the book.
            raise OrderStatusUnknown(
                f"{self.exchange_id} already has an order with this client order id; look it up instead of "
                f"sending it again: {exc}",
                exchange_message=exc.exchange_message,
            ) from exc
        if take_fault(self.account, "kill_worker_after_accept"):
            os.kill(os.getpid(), signal.SIGKILL)  # the order is on the exchange; its caller never learns
        rate = float(armed_faults(self.account).get(LOSE_ANSWER_RATE, 0) or 0)
        if take_fault(self.account, "lose_answer_after_accept") or (rate and random.random() < rate):
            raise OrderStatusUnknown(
                "Timeout waiting for response from backend server. Send status unknown; "
                "execution status unknown. (paper fault injected)"
            )
        return as_placed(self._order(order), self.dialect)

    @property
    def dialect(self) -> str:
        return self.account.paper_dialect or "plain"

    def cancel_order(self, *, symbol: str, id: str = "", client_order_id: str = "") -> ExchangeOrder | None:
        cancelled = services.paper_order_cancel(account=self.account, id=id, client_order_id=client_order_id)
        if self.dialect == "bybit":
            return None  # ids only: the caller looks the order up for its final state
        return as_queried(self._order(cancelled), self.dialect)

    def fetch_order(self, *, symbol: str, id: str = "", client_order_id: str = "") -> ExchangeOrder:
        if take_fault(self.account, "order_not_found"):
            raise OrderNotFound("Order does not exist. (paper fault injected)")
        order = services.paper_order_get(account=self.account, id=id, client_order_id=client_order_id)
        return as_queried(self._order(order), self.dialect)

    def fetch_order_trades(self, *, symbol: str, id: str = "", client_order_id: str = "") -> list[Trade]:
        order = services.paper_order_get(account=self.account, id=id, client_order_id=client_order_id)
        contract_size = self._contract_size(order.symbol)
        return [
            Trade(
                id=str(fill.pk),
                order_id=str(order.pk),
                amount=(fill.amount * contract_size).normalize() if contract_size != 1 else fill.amount,
                price=fill.price,
                fee=fill.fee,
                fee_currency=fill.fee_currency,
            )
            for fill in order.fills.order_by("pk")
        ]

    def fetch_open_orders(self, symbol: str) -> list[ExchangeOrder]:
        if take_fault(self.account, "order_not_found"):
            return []
        orders = PaperOrder.objects.filter(account=self.account, symbol=symbol, status=PaperOrder.Status.OPEN)
        return [as_queried(self._order(order), self.dialect) for order in orders.order_by("pk")]

    def fetch_closed_orders(self, symbol: str, since: datetime | None = None) -> list[ExchangeOrder]:
        if take_fault(self.account, "order_not_found"):
            return []
        orders = PaperOrder.objects.filter(account=self.account, symbol=symbol).exclude(status=PaperOrder.Status.OPEN)
        if since is not None:
            orders = orders.filter(updated_at__gte=since)
        return [as_queried(self._order(order), self.dialect) for order in orders.order_by("pk")]

    def balance(self) -> Balance:
        if self.account.market_type == ExchangeAccount.MarketType.SWAP:
            funding.funding_settle(self.account)
        rows = services.paper_balances(self.account)
        return Balance(free={row.asset: row.free for row in rows}, used={row.asset: row.used for row in rows})

    def candle_intervals(self) -> list[int]:
        return list(STANDARD_INTERVALS)

    def fetch_candles(self, symbol: str, *, interval_minutes: int, since: datetime, limit: int) -> list[Candle]:
        """The recorded prices this account trades at (``exchanges.paper.candles``) as candles of
        ``interval_minutes``."""
        start = bucket_start(since.timestamp(), interval_minutes)
        candles = resample(account_candles(self.account, symbol)[0], interval_minutes)
        return [candle for candle in candles if candle.opened_at >= start][:limit]

    # --- derivatives (exchanges.paper.swaps) -----------------------------------------------------

    def _swap_market(self, symbol: str) -> PaperMarket:
        if self.account.market_type != ExchangeAccount.MarketType.SWAP:
            raise PermanentError(SPOT_ACCOUNT)
        market = services.market_for(self.exchange_id, symbol)
        if not market.is_swap:
            raise BadSymbol(f"{symbol} is not a perpetual: leverage and margin mode are set on BASE/QUOTE:QUOTE.")
        return market

    def position_mode(self, symbol: str | None = None) -> str:
        if self.account.market_type != ExchangeAccount.MarketType.SWAP:
            raise PermanentError(SPOT_ACCOUNT)
        return ExchangeAccount.objects.values_list("paper_position_mode", flat=True).get(pk=self.account.pk)

    def set_leverage(
        self, symbol: str, leverage: int, *, margin_mode: str | None = None, position_side: str | None = None
    ) -> None:
        market = self._swap_market(symbol)
        with transaction.atomic():
            if margin_mode:
                swaps.margin_mode_set(self.account, market, margin_mode)
            swaps.leverage_set(self.account, market, leverage)

    def set_margin_mode(self, symbol: str, margin_mode: str, *, leverage: int | None = None) -> None:
        market = self._swap_market(symbol)
        with transaction.atomic():
            swaps.margin_mode_set(self.account, market, margin_mode)
            if leverage is not None:
                swaps.leverage_set(self.account, market, leverage)

    def fetch_leverage_tiers(self, symbol: str) -> list[MarginTier]:
        """The paper exchange's one table for every perpetual (``swaps.TIERS``: Binance USDⓈ-M BTCUSDT's, from
        ``exchanges.tiers``), the one its liquidation, margin ratio and leverage cap go by."""
        self._swap_market(symbol)
        return list(swaps.TIERS)

    def fetch_positions(self, symbols: list[str] | None = None) -> list[Position]:
        if self.account.market_type != ExchangeAccount.MarketType.SWAP:
            raise PermanentError(SPOT_ACCOUNT)
        funding.funding_settle(self.account)
        book = swaps.book_of(self.account)  # all of them: a cross position's liquidation counts the others
        free = services.paper_balances_usdt_free(self.account)
        result = []
        for held in book:
            row = held.position
            if symbols is not None and row.symbol not in symbols:
                continue
            quantity = (row.contracts * held.contract_size).normalize()
            mark = held.price.normalize() if held.price is not None else None
            pool = liquidation.pool_free(row, free)
            result.append(
                as_position(
                    Position(
                        symbol=row.symbol,
                        side=row.side,
                        quantity=quantity,
                        entry_price=row.entry_price.normalize(),
                        liquidation_price=swaps.held_liquidation_price(held, book, pool),
                        margin_mode=row.margin_mode,
                        leverage=Decimal(row.leverage),
                        margin_ratio=swaps.margin_ratio(held, book, pool),
                        position_side=row.position_side or None,
                        unrealized_pnl=(held.unrealized + 0).normalize() if mark is not None else None,
                        mark_price=mark,
                    ),
                    self.dialect,
                )
            )
        return result

    def fetch_funding_history(self, symbol: str, since: datetime | None = None) -> list[FundingPayment]:
        """The funding the paper exchange charged or paid this account on ``symbol`` (``exchanges.paper.funding``;
        instants missed since the last settlement are settled first), oldest first."""
        if self.account.market_type != ExchangeAccount.MarketType.SWAP:
            raise PermanentError(SPOT_ACCOUNT)
        funding.funding_settle(self.account, symbols=[symbol])
        rows = PaperFunding.objects.filter(account=self.account, symbol=symbol)
        if since is not None:
            rows = rows.filter(funding_time__gte=since)
        return [
            FundingPayment(
                id=str(row.pk),
                symbol=row.symbol,
                amount=row.amount.normalize(),
                currency=row.currency,
                timestamp=row.funding_time,
                position_side=row.position_side or None,
            )
            for row in rows.order_by("funding_time", "pk")
        ]
