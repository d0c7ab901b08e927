"""``CcxtConnector``: a real exchange account (any ccxt exchange id, live or testnet) behind ``Connector``.

Everything leaving here is a dataclass of ``exchanges.connector`` with ``Decimal`` numbers built from
``str(x)``; amounts and prices go *to* ccxt as strings already cut to the market's step and tick
(ccxt rounds them with ``Decimal`` internally), never as floats. The parts: ``transport`` (the
client and the shared rate budget hook), ``markets`` (the market list cached across processes),
``precision`` (ticks, steps, numbers), ``errors`` (ccxt's exceptions as ours), ``candles``.
"""

import hashlib
import logging
from datetime import datetime
from decimal import Decimal

import ccxt

from exchanges.candles import Candle, bucket_start, timeframe_code
from exchanges.ccxt import markets as markets_cache
from exchanges.ccxt.candles import MAX_CANDLE_PAGES, candle_from_row, ccxt_candle_intervals
from exchanges.ccxt.errors import is_not_modified, names_signed_url, translate
from exchanges.ccxt.markets import (
    MarketsSnapshot,
    in_base,
    markets_cache_key,
    markets_ttl,
    snapshot_from_ccxt,
)
from exchanges.ccxt.precision import datetime_from_ms, to_decimal, to_text
from exchanges.ccxt.transport import ccxt_client
from exchanges.connector import (
    MARGIN_MODES,
    POSITION_MODES,
    POSITION_SIDES,
    BadSymbol,
    Balance,
    Connector,
    ExchangeOrder,
    FundingPayment,
    InvalidOrder,
    Market,
    MarketsNotLoaded,
    OrderNotFound,
    PermanentError,
    Position,
    RetryableError,
    Ticker,
    Trade,
)
from exchanges.enums import OrderSide, OrderType
from exchanges.rate_budget import RateBudget, rate_budget_for
from exchanges.symbols import inverse_refusal, resolve_tv_symbol
from exchanges.tiers import MarginTier, margin_tiers

logger = logging.getLogger(__name__)

MAX_CLIENT_ORDER_ID_LENGTH = 36  # Binance allows 36 (newClientOrderId), Bybit 36 (orderLinkId)

# The request parameter that carries *our* id when looking up or cancelling an order. ccxt
# translates ``clientOrderId`` on placement for every exchange, but not always on lookups.
CLIENT_ORDER_ID_LOOKUP_PARAM = {"binance": "origClientOrderId", "bybit": "orderLinkId"}
# Exchanges whose fetchOrder sees only open orders (Bybit unified accounts: /v5/order/realtime
# lists open orders unless asked otherwise): we look in open orders, then in the order history.
LOOKUP_IN_LISTINGS = {"bybit": "orderId"}  # exchange id → the parameter naming the exchange's order id

ORDER_STATUSES = {
    "open": "open",
    "closed": "closed",
    "canceled": "canceled",
    "cancelled": "canceled",
    # Expired (IOC/FOK leftovers, self-trade prevention) and rejected orders will never fill.
    "expired": "canceled",
    "rejected": "canceled",
}


class CcxtConnector(Connector):
    """A real exchange account (or just its public data, without keys) through ccxt."""

    def __init__(
        self,
        exchange_id: str,
        *,
        mode: str = "live",
        api_key: str = "",
        api_secret: str = "",
        password: str = "",
        account_key: str = "",
        budget: RateBudget | None = None,
        ccxt_options: dict | None = None,
        market_type: str = "spot",
    ):
        self.exchange_id = exchange_id
        self.mode = mode
        # The account's market type: spot, or swap (linear perpetuals, through ccxt's derivatives endpoints);
        # tickers resolve to markets of this type only.
        self.market_type = market_type
        self.client = ccxt_client(
            exchange_id,
            mode=mode,
            api_key=api_key,
            api_secret=api_secret,
            password=password,
            ccxt_options=ccxt_options,
            market_type=market_type,
        )
        if budget is None:
            # ccxt's rateLimit is milliseconds per unit of request cost; the bucket refills at the same pace.
            budget = rate_budget_for(
                exchange_id,
                account_key or self._anonymous_account_key(api_key),
                per_second=1000 / self.client.rateLimit,
            )
        self.budget = budget
        self.client.rate_budget = budget
        self._installed: MarketsSnapshot | None = None

    def _anonymous_account_key(self, api_key: str) -> str:
        # Never put a key itself into Redis key names; a digest still tells accounts apart.
        if not api_key:
            return f"public-{self.mode}"
        return f"key-{hashlib.sha256(api_key.encode()).hexdigest()[:16]}"

    # --- markets -------------------------------------------------------------------------

    def load_markets(self, *, reload: bool = False) -> dict[str, Market]:
        return self._markets(reload=reload).markets

    def market(self, symbol: str) -> Market:
        snapshot = self._markets()
        if symbol in snapshot.markets:
            return snapshot.markets[symbol]
        if symbol in snapshot.without_precision:
            raise BadSymbol(self._missing_precision_message(symbol))
        if symbol in snapshot.refused:
            raise BadSymbol(inverse_refusal(symbol, self.exchange_id, [snapshot.refused[symbol]]))
        raise BadSymbol(f"{self.exchange_id} has no market {symbol}.")

    def loaded_market(self, symbol: str) -> Market:
        key, ttl = self._markets_key(), markets_ttl()
        snapshot = self._held(key, ttl)
        if snapshot is None:
            raise MarketsNotLoaded(
                f"{self.exchange_id}'s market list is not loaded on this server right now (a worker keeps it for "
                f"{ttl} s after reading it): the next risk evaluation or order reads it; try again in a minute."
            )
        self._install(key, snapshot)
        return self.market(symbol)

    def resolve_symbol(self, tv_symbol: str) -> str:
        snapshot = self._markets()
        # The inverse perpetuals a swap account set aside are candidates too, so that exchanges.symbols (the
        # one place that refuses them) tells the trader why rather than "unknown market"; it never returns one.
        try:
            symbol = resolve_tv_symbol(
                tv_symbol,
                {**snapshot.refused, **snapshot.markets},
                exchange_id=self.exchange_id,
                market_type=self.market_type,
            )
        except BadSymbol as unknown:
            try:
                listed_without_precision = resolve_tv_symbol(
                    tv_symbol, snapshot.without_precision, exchange_id=self.exchange_id, market_type=self.market_type
                )
            except BadSymbol:
                raise unknown from None
            raise BadSymbol(self._missing_precision_message(listed_without_precision)) from unknown
        if symbol not in snapshot.markets:  # exchanges.symbols refuses inverse markets; never trade one anyway
            raise BadSymbol(inverse_refusal(tv_symbol, self.exchange_id, [snapshot.refused[symbol]]))
        return symbol

    def _missing_precision_message(self, symbol: str) -> str:
        return (
            f"{self.exchange_id} lists {symbol} without a price tick or amount step (missing precision), "
            f"so orders for it cannot be sized; pick another market."
        )

    def _markets_key(self) -> str:
        return markets_cache_key(self.exchange_id, self.mode, self.market_type)

    def _markets(self, *, reload: bool = False) -> MarketsSnapshot:
        key = self._markets_key()
        ttl = markets_ttl()
        if not reload:
            snapshot = self._held(key, ttl)
            if snapshot is not None:
                self._install(key, snapshot)
                return snapshot
        snapshot = self._download_markets()
        markets_cache.store_in_shared_cache(key, snapshot, ttl, self.exchange_id)
        self._install(key, snapshot, in_client=True)  # ccxt's load_markets already set them
        return snapshot

    def _held(self, key: str, ttl: int) -> MarketsSnapshot | None:
        """A fresh market list this connector, this process or the shared cache holds; None to download."""
        fresh = markets_cache.fresh
        snapshot = fresh(self._installed, ttl) or fresh(markets_cache.in_process(key), ttl)
        return snapshot or fresh(markets_cache.from_shared_cache(key, self.exchange_id), ttl)

    def _install(self, key: str, snapshot: MarketsSnapshot, *, in_client: bool = False) -> None:
        """Make ``snapshot`` this connector's markets, and ccxt's, without any HTTP request."""
        if self._installed is not snapshot and not in_client:
            # ccxt needs its own parsed markets to build orders (ids, precision, order types).
            self.client.set_markets(snapshot.ccxt_markets)
        self._installed = snapshot
        markets_cache.keep_in_process(key, snapshot)

    def _download_markets(self) -> MarketsSnapshot:
        if self.client.precisionMode not in (ccxt.TICK_SIZE, ccxt.DECIMAL_PLACES):
            # SIGNIFICANT_DIGITS (ccxt's bitfinex, bithumb): the tick changes with the price, so
            # there is no tick to store or to quantise a grid with. Refuse before any request.
            raise PermanentError(
                f"{self.exchange_id}: ccxt counts its precision in significant digits, which has no fixed "
                f"price tick; the engine supports exchanges with tick-size or decimal-places precision."
            )
        raw_markets = self._call(self.client.load_markets, True)
        return snapshot_from_ccxt(raw_markets, self.client.precisionMode, self.exchange_id, self.market_type)

    # --- prices and balances -------------------------------------------------------------

    def ticker(self, symbol: str) -> Ticker:
        self.market(symbol)
        return self._ticker(symbol, self._call(self.client.fetch_ticker, symbol))

    def tickers(self, symbols: list[str]) -> dict[str, Ticker]:
        if not symbols:
            return {}
        if not self.client.has.get("fetchTickers"):
            return super().tickers(symbols)
        # One request per market type: exchanges answer spot and perpetual tickers on different endpoints.
        by_type: dict[str, list[str]] = {}
        for symbol in dict.fromkeys(symbols):
            by_type.setdefault(self.market(symbol).type, []).append(symbol)
        result = {}
        for group in by_type.values():
            raw = self._call(self.client.fetch_tickers, group)
            for symbol in group:
                if symbol in raw and (raw[symbol].get("last") is not None or raw[symbol].get("close") is not None):
                    result[symbol] = self._ticker(symbol, raw[symbol])
                else:
                    result[symbol] = self.ticker(symbol)  # the exchange left it out of the batch
        return result

    def _ticker(self, symbol: str, raw: dict) -> Ticker:
        last = to_decimal(raw.get("last")) or to_decimal(raw.get("close"))
        if last is None:
            raise RetryableError(f"{self.exchange_id} gave no last price for {symbol}.")
        return Ticker(
            symbol=symbol,
            last=last,
            bid=to_decimal(raw.get("bid")),
            ask=to_decimal(raw.get("ask")),
            timestamp=datetime_from_ms(raw.get("timestamp")),
        )

    def balance(self) -> Balance:
        self._markets()
        raw = self._call(self.client.fetch_balance)
        free = {asset: amount for asset, value in (raw.get("free") or {}).items() if (amount := to_decimal(value))}
        used = {asset: amount for asset, value in (raw.get("used") or {}).items() if (amount := to_decimal(value))}
        return Balance(free=free, used=used)

    # --- candles -------------------------------------------------------------------------

    def candle_intervals(self) -> list[int]:
        return ccxt_candle_intervals(self.exchange_id)

    def fetch_candles(self, symbol: str, *, interval_minutes: int, since: datetime, limit: int) -> list[Candle]:
        """ccxt's ``fetch_ohlcv``, page after page from ``since``: exchanges cap a page (Binance and Bybit at
        1,000 candles, OKX at 300, some at 100), so a long window takes several requests."""
        self.market(symbol)
        code = timeframe_code(interval_minutes)
        if interval_minutes not in self.candle_intervals():
            raise PermanentError(f"{self.exchange_id} serves no {code} candles through ccxt.")
        size_ms = interval_minutes * 60_000
        since_ms = bucket_start(since.timestamp(), interval_minutes) * 1000
        candles: dict[int, Candle] = {}
        for _ in range(MAX_CANDLE_PAGES):
            rows = self._call(self.client.fetch_ohlcv, symbol, code, since_ms, limit - len(candles))
            fresh = [
                candle
                for candle in map(candle_from_row, rows or [])
                if candle is not None and candle.opened_at * 1000 >= since_ms and candle.opened_at not in candles
            ]
            if not fresh:
                break
            candles.update((candle.opened_at, candle) for candle in fresh)
            if len(candles) >= limit:
                break
            since_ms = max(candles) * 1000 + size_ms
        return [candles[start] for start in sorted(candles)][:limit]

    # --- orders --------------------------------------------------------------------------

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
        if side not in OrderSide.values or type not in OrderType.values:
            raise InvalidOrder(f"Unsupported order {side} {type}: the engine sends buy/sell limit/market orders.")
        if not client_order_id or len(client_order_id) > MAX_CLIENT_ORDER_ID_LENGTH:
            raise InvalidOrder(
                f"Client order id {client_order_id!r} must be 1-{MAX_CLIENT_ORDER_ID_LENGTH} characters."
            )
        if type == OrderType.LIMIT and price is None:
            raise InvalidOrder(f"A limit order on {symbol} needs a price.")
        market = self.market(symbol)  # BadSymbol (unknown, or missing precision) before anything is sent
        params = {"clientOrderId": client_order_id}
        params.update(self._derivative_params(market, reduce_only, position_side, margin_mode))
        # Strings in, strings out: ccxt cuts them to the market's step/tick with Decimal arithmetic. A
        # contract market counts contracts: the base amount is converted first, then cut to the contract step.
        if market.contract_size != 1 and amount < market.step_size:
            raise InvalidOrder(
                f"{to_text(amount)} {market.base} on {symbol} is less than one contract step: "
                f"{to_text(market.step_size)} {market.base} "
                f"(contracts of {to_text(market.contract_size)} {market.base})."
            )
        amount_text = self._call(self.client.amount_to_precision, symbol, to_text(self._to_contracts(market, amount)))
        # A market order goes out without a price: given one, Binance and Bybit would turn the
        # amount into a quote-currency cost (amount × price) instead of a base quantity.
        price_text = (
            self._call(self.client.price_to_precision, symbol, to_text(price)) if type == OrderType.LIMIT else None
        )
        raw = self._call(
            self.client.create_order,
            symbol,
            type,
            side,
            amount_text,
            price_text,
            params,
            creating_order=True,
        )
        return self._order(
            raw,
            symbol=symbol,
            client_order_id=client_order_id,
            sent={
                "side": side,
                "type": type,
                "amount": in_base(Decimal(amount_text), market.contract_size),
                "price": Decimal(price_text) if price_text else None,
            },
        )

    def _derivative_params(
        self, market: Market, reduce_only: bool, position_side: str | None, margin_mode: str | None
    ) -> dict:
        """The exchange's own order parameters for a derivatives order; none for a spot order."""
        if market.type == "spot":
            if reduce_only or position_side or margin_mode:
                raise InvalidOrder(
                    f"{market.symbol} is a spot market: reduce-only, position side and margin mode are for swaps."
                )
            return {}
        if position_side is not None and position_side not in POSITION_SIDES:
            raise InvalidOrder(f"Position side must be one of {POSITION_SIDES}, not {position_side!r}.")
        if margin_mode is not None and margin_mode not in MARGIN_MODES:
            raise InvalidOrder(f"Margin mode must be one of {MARGIN_MODES}, not {margin_mode!r}.")
        dialect = self._dialect()
        params: dict = {}
        if dialect == "okx":
            if margin_mode is None:
                raise InvalidOrder(f"An OKX swap order on {market.symbol} needs a margin mode (isolated or cross).")
            params["tdMode"] = margin_mode
        if position_side is None:
            if reduce_only:
                params["reduceOnly"] = True
            return params
        # Hedge mode: the leg and the side make an order a close (a sell on the long leg can only reduce it),
        # and Binance refuses reduceOnly there, so it is not sent to any exchange.
        if dialect == "binance":
            params["positionSide"] = position_side.upper()
        elif dialect == "bybit":
            params["positionIdx"] = 1 if position_side == "long" else 2
        elif dialect == "okx":
            params["posSide"] = position_side
        else:
            raise InvalidOrder(f"Hedge-mode orders are not supported on {self.exchange_id}.")
        return params

    def _dialect(self) -> str:
        """binance | bybit | okx (by ccxt class, so binanceusdm speaks binance), or the exchange id."""
        for cls in type(self.client).__mro__:
            if getattr(cls, "__name__", "") in ("binance", "bybit", "okx"):
                return cls.__name__
        return self.exchange_id

    @staticmethod
    def _to_contracts(market: Market, amount: Decimal) -> Decimal:
        return amount if market.contract_size == 1 else amount / market.contract_size

    def fetch_order(self, *, symbol: str, id: str = "", client_order_id: str = "") -> ExchangeOrder:
        self._require_reference(id, client_order_id)
        self.market(symbol)
        if self.exchange_id in LOOKUP_IN_LISTINGS:
            return self._find_in_listings(symbol, id, client_order_id)
        raw = self._call(self.client.fetch_order, id or None, symbol, self._reference_params(id, client_order_id))
        return self._order(raw, symbol=symbol, client_order_id=client_order_id)

    def fetch_order_trades(self, *, symbol: str, id: str = "", client_order_id: str = "") -> list[Trade]:
        """The order's fills with their commissions: Binance's order queries carry none (only the
        placement answer does), so a fill found by a query gets its fee from here."""
        self._require_reference(id, client_order_id)
        self.market(symbol)
        if not id:
            id = self.fetch_order(symbol=symbol, client_order_id=client_order_id).id
        if self.client.has.get("fetchOrderTrades"):
            raw = self._call(self.client.fetch_order_trades, id, symbol)
        else:
            raw = [t for t in self._call(self.client.fetch_my_trades, symbol) if str(t.get("order") or "") == id]
        contract_size = self.market(symbol).contract_size
        trades = []
        for trade in raw:
            fee, fee_currency = self._fee(trade)
            trades.append(
                Trade(
                    id=str(trade.get("id") or ""),
                    order_id=str(trade.get("order") or id),
                    amount=in_base(to_decimal(trade.get("amount")) or Decimal(0), contract_size),
                    price=to_decimal(trade.get("price")) or Decimal(0),
                    fee=fee,
                    fee_currency=fee_currency,
                )
            )
        return trades

    def cancel_order(self, *, symbol: str, id: str = "", client_order_id: str = "") -> ExchangeOrder | None:
        """Cancel; the order as the exchange reports it afterwards, or None when it answers with ids only (Bybit)."""
        self._require_reference(id, client_order_id)
        self.market(symbol)
        raw = self._call(self.client.cancel_order, id or None, symbol, self._reference_params(id, client_order_id))
        if not raw or raw.get("status") is None or raw.get("amount") is None:
            return None
        return self._order(raw, symbol=symbol, client_order_id=client_order_id)

    def fetch_open_orders(self, symbol: str) -> list[ExchangeOrder]:
        self.market(symbol)
        return [self._order(raw, symbol=symbol) for raw in self._call(self.client.fetch_open_orders, symbol)]

    def fetch_closed_orders(self, symbol: str, since: datetime | None = None) -> list[ExchangeOrder]:
        self.market(symbol)
        since_ms = int(since.timestamp() * 1000) if since else None
        has = self.client.has
        if has.get("fetchCanceledAndClosedOrders") is True:
            # Bybit's fetchClosedOrders returns filled orders only; cancelled ones matter to fill sync too.
            fetch = self.client.fetch_canceled_and_closed_orders
        elif has.get("fetchOrders"):
            # Binance: ccxt's emulated fetchCanceledAndClosedOrders drops EXPIRED orders (IOC
            # leftovers), which may carry partial fills; all orders minus the open ones keeps them.
            fetch = self.client.fetch_orders
        else:
            fetch = self.client.fetch_closed_orders
        orders = [self._order(raw, symbol=symbol) for raw in self._call(fetch, symbol, since_ms)]
        return [order for order in orders if order.status != "open"]

    # --- derivatives (swap accounts) ------------------------------------------------------

    def position_mode(self, symbol: str | None = None) -> str:
        """``one_way`` or ``hedge``: Binance's dualSidePosition, OKX's posMode (GET /api/v5/account/config),
        Bybit's positionIdx on the symbol's position list (0 one-way, 1/2 hedge; Bybit has no query of its own,
        and lists a symbol's empty position entries when asked for that symbol)."""
        markets = self._swap_markets("position mode")
        dialect = self._dialect()
        if dialect == "bybit":
            if symbol is None:  # Bybit keeps the mode per settle coin: any USDT perpetual tells
                usdt = sorted(s for s in markets if s.endswith(":USDT"))
                symbol = "BTC/USDT:USDT" if "BTC/USDT:USDT" in markets else (usdt or sorted(markets))[0]
            market = self._swap_market(symbol)
            raw = self._call(
                self.client.private_get_v5_position_list, {"category": "linear", "symbol": market.market_id}
            )
            indexes = {str(row.get("positionIdx")) for row in ((raw.get("result") or {}).get("list") or [])}
            if not indexes:
                raise RetryableError(f"bybit listed no position entry for {symbol}, so its position mode is unknown.")
            return "one_way" if indexes == {"0"} else "hedge"
        if not self.client.has.get("fetchPositionMode"):
            raise PermanentError(f"{self.exchange_id}: reading the position mode is not supported.")
        if symbol is not None:
            self._swap_market(symbol)
        answer = self._call(self.client.fetch_position_mode, symbol)
        hedged = answer.get("hedged")
        if hedged is None:
            raise RetryableError(f"{self.exchange_id} did not say its position mode.")
        return POSITION_MODES[1] if hedged else POSITION_MODES[0]

    def set_leverage(
        self, symbol: str, leverage: int, *, margin_mode: str | None = None, position_side: str | None = None
    ) -> None:
        market = self._swap_market(symbol)
        if int(leverage) != leverage or leverage < 1:
            raise InvalidOrder(f"Leverage must be a whole number from 1, not {leverage!r}.")
        params: dict = {}
        if self._dialect() == "okx":
            # OKX keeps a leverage per margin mode (and per leg for isolated hedge positions).
            if margin_mode not in MARGIN_MODES:
                raise InvalidOrder(f"OKX sets leverage per margin mode: give isolated or cross for {symbol}.")
            params["marginMode"] = margin_mode
            if margin_mode == "isolated" and position_side in POSITION_SIDES:
                params["posSide"] = position_side
        self._call(self.client.set_leverage, int(leverage), market.symbol, params, not_modified=True)

    def set_margin_mode(self, symbol: str, margin_mode: str, *, leverage: int | None = None) -> None:
        """Binance: per symbol (marginType). Bybit: per account on a unified trading account (all its
        positions), per symbol with the leverage on a classic one. OKX: the margin mode travels on every
        order (``tdMode``): nothing to set, unless a leverage is given for that mode."""
        market = self._swap_market(symbol)
        if margin_mode not in MARGIN_MODES:
            raise InvalidOrder(f"Margin mode must be one of {MARGIN_MODES}, not {margin_mode!r}.")
        dialect = self._dialect()
        if dialect == "okx":
            if leverage is not None:
                self.set_leverage(symbol, leverage, margin_mode=margin_mode)
            return
        params = {"leverage": str(int(leverage))} if leverage is not None and dialect == "bybit" else {}
        self._call(self.client.set_margin_mode, margin_mode, market.symbol, params, not_modified=True)

    def fetch_positions(self, symbols: list[str] | None = None) -> list[Position]:
        markets = self._swap_markets("positions")
        for symbol in symbols or []:
            self._swap_market(symbol)
        wanted = list(dict.fromkeys(symbols)) if symbols else None
        # Bybit takes one symbol or none (then all USDT-settled positions); the others take a list.
        ask = wanted if wanted is None or self._dialect() != "bybit" or len(wanted) == 1 else None
        positions = []
        for raw in self._call(self.client.fetch_positions, ask):
            symbol = raw.get("symbol") or ""
            if symbol not in markets or (wanted is not None and symbol not in wanted):
                continue  # another account type's position (an inverse one on OKX), or not asked for
            position = self._position(raw, markets[symbol])
            if position is not None:
                positions.append(position)
        return positions

    def _position(self, raw: dict, market: Market) -> Position | None:
        contracts = to_decimal(raw.get("contracts"))
        if contracts is None:
            # A listed position whose size is missing or unreadable is not a closed one: the engine would close
            # groups the exchange still holds. The whole answer is unusable; the next cycle asks again.
            raise RetryableError(f"{self.exchange_id} listed a {market.symbol} position without a readable size.")
        if not contracts:
            return None
        side = (raw.get("side") or "").lower()
        if side not in POSITION_SIDES:
            # One-way answers without a side: the sign of the size says it (ccxt keeps it on some exchanges).
            side = "short" if contracts < 0 else "long"
        margin_mode = (raw.get("marginMode") or "").lower()
        return Position(
            symbol=market.symbol,
            side=side,
            quantity=in_base(abs(contracts), market.contract_size),
            entry_price=to_decimal(raw.get("entryPrice")) or None,
            liquidation_price=to_decimal(raw.get("liquidationPrice")) or None,
            margin_mode=margin_mode if margin_mode in MARGIN_MODES else "",
            leverage=to_decimal(raw.get("leverage")),
            margin_ratio=to_decimal(raw.get("marginRatio")),
            position_side=side if raw.get("hedged") else None,
            unrealized_pnl=to_decimal(raw.get("unrealizedPnl")),
            mark_price=to_decimal(raw.get("markPrice")) or None,
        )

    def fetch_funding_history(self, symbol: str, since: datetime | None = None) -> list[FundingPayment]:
        market = self._swap_market(symbol)
        since_ms = int(since.timestamp() * 1000) if since else None
        payments = []
        for raw in self._call(self.client.fetch_funding_history, market.symbol, since_ms):
            amount = to_decimal(raw.get("amount"))
            if amount is None:
                continue
            position_side = None
            if self.exchange_id == "bybit":
                # ccxt passes Bybit's execFee through as the amount. Bybit books a funding execution as
                # execFee = position value x funding rate, with ``side`` the position's side (Buy = long): what a
                # long pays and a short receives. Signed for the trader (received positive) by that side.
                position_side = {"buy": "long", "sell": "short"}.get(str((raw.get("info") or {}).get("side")).lower())
                if position_side is None:
                    logger.warning("bybit funding payment %s without a position side: left out", raw.get("id"))
                    continue
                amount = -amount if position_side == "long" else amount
            payments.append(
                FundingPayment(
                    id=str(raw.get("id") or ""),
                    symbol=raw.get("symbol") or market.symbol,
                    amount=amount,
                    currency=raw.get("code") or market.quote,
                    timestamp=datetime_from_ms(raw.get("timestamp")),
                    position_side=position_side,
                )
            )
        return sorted(payments, key=lambda payment: (payment.timestamp is None, payment.timestamp or 0, payment.id))

    def fetch_leverage_tiers(self, symbol: str) -> list[MarginTier]:
        """``symbol``'s tiers, floors in the quote asset. Binance: ``GET /fapi/v1/leverageBracket`` for that symbol
        only (ccxt's fetchLeverageTiers would ask for every symbol's; the brackets are the account's, signed).
        Bybit: ``/v5/market/risk-limit`` (category linear). OKX: ``/api/v5/public/position-tiers``, whose tiers
        count contracts: floors are turned into base units (× contractSize) and then into the quote at the
        market's last price, so OKX's table holds at today's price (the caller caches it for hours, not days).
        The maintenance amounts follow from the rates (``exchanges.tiers.margin_tiers``), as the exchanges'
        own ``cum`` / ``mmDeduction`` do."""
        market = self._swap_market(symbol)
        dialect = self._dialect()
        if dialect == "binance":
            raw = self._call(self.client.fapiPrivateGetLeverageBracket, {"symbol": market.market_id})
            # One symbol asked: Binance answers a list of one entry (or, as documented, the entry itself).
            entries = raw if isinstance(raw, list) else [raw]
            entry = next((e for e in entries if isinstance(e, dict) and e.get("symbol") == market.market_id), {})
            rows = [
                (bracket.get("notionalFloor"), bracket.get("initialLeverage"), bracket.get("maintMarginRatio"))
                for bracket in entry.get("brackets") or []
            ]
        elif self.client.has.get("fetchMarketLeverageTiers"):
            rows = [
                (tier.get("minNotional"), tier.get("maxLeverage"), tier.get("maintenanceMarginRate"))
                for tier in self._call(self.client.fetch_market_leverage_tiers, market.symbol) or []
            ]
        else:
            raise PermanentError(f"{self.exchange_id}: reading the leverage tiers is not supported.")
        tiers = []
        for floor, max_leverage, rate in rows:
            floor_number, leverage_number, rate_number = to_decimal(floor), to_decimal(max_leverage), to_decimal(rate)
            if floor_number is None or leverage_number is None or rate_number is None or leverage_number < 1:
                raise RetryableError(
                    f"{self.exchange_id} gave an incomplete leverage tier for {symbol}: {floor, max_leverage, rate}."
                )
            tiers.append((floor_number, int(leverage_number), rate_number))
        if not tiers:
            raise RetryableError(f"{self.exchange_id} gave no leverage tiers for {symbol}.")
        if dialect == "okx":
            price = self.ticker(symbol).last  # floors counted in contracts: into base units, then the quote
            tiers = [(floor * market.contract_size * price, leverage, rate) for floor, leverage, rate in tiers]
        return list(margin_tiers(*tiers))

    def _swap_markets(self, what: str) -> dict[str, Market]:
        if self.market_type != "swap":
            raise PermanentError(f"This {self.exchange_id} account trades spot: it has no {what}.")
        return self.load_markets()

    def _swap_market(self, symbol: str) -> Market:
        self._swap_markets("derivatives markets")
        market = self.market(symbol)
        if market.type != "swap":
            raise BadSymbol(f"{symbol} is not a perpetual swap on {self.exchange_id}.")
        return market

    # --- helpers -------------------------------------------------------------------------

    @staticmethod
    def _require_reference(id: str, client_order_id: str) -> None:
        if not id and not client_order_id:
            raise ValueError("Give the exchange's order id or our client order id.")

    def _client_id_param(self) -> str:
        for cls in type(self.client).__mro__:  # binanceusdm and friends inherit binance's naming
            if getattr(cls, "__name__", "") in CLIENT_ORDER_ID_LOOKUP_PARAM:
                return CLIENT_ORDER_ID_LOOKUP_PARAM[cls.__name__]
        return CLIENT_ORDER_ID_LOOKUP_PARAM.get(self.exchange_id, "clientOrderId")

    def _reference_params(self, id: str, client_order_id: str) -> dict:
        # The exchange's id wins when we have it: Binance lets a client id be reused once the
        # first order is closed, so only the exchange id is certain to name one order.
        return {} if id else {self._client_id_param(): client_order_id}

    def _find_in_listings(self, symbol: str, id: str, client_order_id: str) -> ExchangeOrder:
        params = {LOOKUP_IN_LISTINGS[self.exchange_id]: id} if id else {self._client_id_param(): client_order_id}
        for fetch in (self.client.fetch_open_orders, self.client.fetch_canceled_and_closed_orders):
            for raw in self._call(fetch, symbol, None, None, dict(params)):
                if (id and str(raw.get("id")) == id) or (not id and raw.get("clientOrderId") == client_order_id):
                    return self._order(raw, symbol=symbol, client_order_id=client_order_id)
        raise OrderNotFound(f"{self.exchange_id} does not know order {id or client_order_id} on {symbol}.")

    def _order(self, raw: dict, *, symbol: str, client_order_id: str = "", sent: dict | None = None) -> ExchangeOrder:
        sent = sent or {}
        info = raw.get("info") or {}
        raw_status = (raw.get("status") or "").lower()
        # Bybit answers a placement with ids only: accepted, so open until fill sync says otherwise.
        status = ORDER_STATUSES.get(raw_status, "open")
        fee, fee_currency = self._fee(raw)
        price = to_decimal(raw.get("price"))
        contract_size = self.market(symbol).contract_size  # ccxt counts contracts; we count the base asset
        amount = to_decimal(raw.get("amount"))
        return ExchangeOrder(
            id=str(raw.get("id") or ""),
            # On a cancel Binance reports a fresh clientOrderId for the cancel request itself;
            # the id we placed the order with is origClientOrderId.
            client_order_id=(info.get("origClientOrderId") if isinstance(info, dict) else None)
            or raw.get("clientOrderId")
            or client_order_id,
            symbol=raw.get("symbol") or symbol,
            side=raw.get("side") or sent.get("side", ""),
            type=raw.get("type") or sent.get("type", ""),
            amount=(in_base(amount, contract_size) if amount else None) or sent.get("amount") or Decimal(0),
            price=price if price else sent.get("price"),
            status=status,
            filled=in_base(to_decimal(raw.get("filled")) or Decimal(0), contract_size),
            average=to_decimal(raw.get("average")) or None,
            fee=fee,
            fee_currency=fee_currency,
            timestamp=datetime_from_ms(raw.get("timestamp")),
        )

    def _fee(self, raw: dict) -> tuple[Decimal, str]:
        fees = [fee for fee in (raw.get("fees") or [raw.get("fee")]) if fee and fee.get("cost") is not None]
        by_currency: dict[str, Decimal] = {}
        for fee in fees:
            currency = fee.get("currency") or ""
            by_currency[currency] = by_currency.get(currency, Decimal(0)) + (to_decimal(fee["cost"]) or Decimal(0))
        if not by_currency:
            return Decimal(0), ""
        if len(by_currency) > 1:
            logger.warning(
                "%s order %s paid fees in several currencies %s; reporting the first",
                self.exchange_id,
                raw.get("id"),
                by_currency,
            )
        currency, cost = next(iter(by_currency.items()))
        return cost, currency

    def _call(self, function, *args, creating_order: bool = False, not_modified: bool = False):
        """Run one ccxt call, turning its exceptions into ours. ``not_modified``: a settings change the
        exchange refuses because the setting already has that value is success (the answer is None)."""
        try:
            return function(*args)
        except ccxt.BaseError as exc:
            if not_modified and is_not_modified(exc, self.client.id):
                logger.info("%s: %s already set (%s)", self.exchange_id, function.__name__, exc)
                return None
            error = translate(
                exc, exchange_id=self.exchange_id, client=self.client, budget=self.budget, creating_order=creating_order
            )
            if not names_signed_url(exc):
                raise error from exc
        # ccxt's text names the request URL with its signature (Binance) or API key (HTX AccessKeyId),
        # and so would any traceback that chains it: ours keeps only the cleaned message. Raised
        # outside the except block, so not even __context__ holds the original.
        raise error
