"""The connector for real exchanges: any ccxt exchange id, live or testnet (ccxt sandbox mode).

What this layer adds on top of ccxt:

- **Plain values.** Everything leaving here is a dataclass of ``exchanges.connector`` with
  ``Decimal`` numbers built from ``str(x)``; amounts and prices go *to* ccxt as strings already cut
  to the market's step and tick (ccxt rounds them with ``Decimal`` internally), never as floats.
- **Errors a task can act on.** ccxt's exception tree is mapped to retryable vs permanent (see
  ``CcxtConnector._translate``). A placement whose answer was lost (timeout, 5xx, Binance -1006/-1007
  "execution status unknown") becomes ``OrderStatusUnknown``: look the order up by client order id
  before sending it again (``Connector.place_order(is_retry=True)`` does).
- **Markets cached across processes.** ``load_markets`` keeps the market list in Django's cache
  (Redis in production) for ``MARKETS_CACHE_SECONDS``, together with ccxt's own parsed market
  dicts, so a worker handling a signal installs them into ccxt with ``set_markets`` instead of
  downloading Binance's multi-megabyte exchangeInfo again. Markets without price/amount precision
  are left out of the list (with a "missing precision" BadSymbol when someone asks for one); option
  markets are left out because the engine never trades them.
- **One rate budget per exchange account across processes** (``exchanges.rate_budget``), hooked in
  at ccxt's ``fetch`` — the single method every HTTP request goes through — plus ``throttle`` (to
  learn ccxt's cost for the request) and ``on_rest_response`` (to see status and headers of every
  answer, including errors, before ccxt raises).

Precision modes: ccxt 4.5 parses Binance and Bybit (and almost every exchange) in ``TICK_SIZE``
mode (precision.price is the tick itself, e.g. 0.01). ``DECIMAL_PLACES`` (precision.price = 2 means
a tick of 0.01) is converted too. ``SIGNIFICANT_DIGITS`` (ccxt's bitfinex and bithumb) has no fixed
tick at all, so such exchanges are refused with a clear error rather than traded with a guess.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

import ccxt
from django.conf import settings
from django.core.cache import cache

from exchanges.candles import Candle, bucket_start, timeframe_code, timeframe_minutes
from exchanges.connector import (
    AuthenticationFailed,
    Balance,
    BadSymbol,
    Connector,
    ExchangeOrder,
    InsufficientFunds,
    InvalidOrder,
    Market,
    MarketsNotLoaded,
    OrderNotFound,
    OrderStatusUnknown,
    PermanentError,
    RateLimited,
    RetryableError,
    Ticker,
    Trade,
)
from exchanges.rate_budget import FALLBACK_BLOCK_SECONDS, RateBudget, rate_budget_for, retry_after_seconds
from exchanges.symbols import resolve_tv_symbol

logger = logging.getLogger(__name__)

MODES = ("live", "testnet")
MAX_CLIENT_ORDER_ID_LENGTH = 36  # Binance allows 36 (newClientOrderId), Bybit 36 (orderLinkId)

DEFAULT_CCXT_CONFIG = {
    "enableRateLimit": True,
    # Currency metadata is a private, heavy call on Binance and Bybit and no order needs it.
    "has": {"fetchCurrencies": False},
    # Binance: with keys, loading markets also downloads the margin pair lists (two more
    # requests); the engine trades spot and perpetuals only.
    "options": {"fetchMargins": False},
}

# The request parameter that carries *our* id when looking up or cancelling an order. ccxt
# translates ``clientOrderId`` on placement for every exchange, but not always on lookups.
CLIENT_ORDER_ID_LOOKUP_PARAM = {"binance": "origClientOrderId", "bybit": "orderLinkId"}
# Exchanges whose fetchOrder sees only open orders (Bybit unified accounts: /v5/order/realtime
# lists open orders unless asked otherwise): we look in open orders, then in the order history.
LOOKUP_IN_LISTINGS = {"bybit": "orderId"}  # exchange id → the parameter naming the exchange's order id

ORDER_STATUSES = {
    "open": "open", "closed": "closed", "canceled": "canceled", "cancelled": "canceled",
    # Expired (IOC/FOK leftovers, self-trade prevention) and rejected orders will never fill.
    "expired": "canceled", "rejected": "canceled",
}
# Binance -1006 "unexpected response … execution status unknown", -1007 "Timeout waiting for
# response from backend server. Send status unknown; execution status unknown." ccxt maps them
# differently per endpoint (RequestTimeout, BadResponse, ExchangeError), so we match the code.
STATUS_UNKNOWN_CODES = {"-1006", "-1007"}
# Answers that mean "no such order" which ccxt files under another class on some endpoints
# (Binance spot DELETE /api/v3/order: -2011 "Unknown order sent." → OperationRejected).
ORDER_NOT_FOUND_MESSAGES = ("unknown order sent", "order does not exist")
# A URL with a query string in a ccxt exception's text: the request as sent, signed (and on HTX
# with the API key as AccessKeyId). Network errors chain requests' exception, which names it too.
_SIGNED_URL = re.compile(r"://\S*\?")


# --- The budget hook -------------------------------------------------------------------------


class _SharedBudgetTransport:
    """Mixed in front of a ccxt exchange class so every HTTP request goes through the shared budget.

    ccxt calls ``throttle(cost)`` then ``fetch(url, …)`` for every REST request, and
    ``on_rest_response`` for every answer (2xx or not) before its error handling raises.
    """

    rate_budget: RateBudget | None = None
    budget_last_status: int | None = None
    budget_last_headers = None
    _budget_request_cost: float | None = None

    def throttle(self, cost=None):
        # Remember ccxt's cost for this endpoint so the shared bucket counts in the same units.
        self._budget_request_cost = 1 if cost is None else cost
        return super().throttle(cost)

    def fetch(self, url, method="GET", headers=None, body=None):
        cost, self._budget_request_cost = self._budget_request_cost, None
        if self.rate_budget is not None:
            self.rate_budget.acquire(1 if cost is None else cost)
        self.budget_last_status, self.budget_last_headers = None, None
        return super().fetch(url, method, headers, body)

    def on_rest_response(
        self, code, reason, url, method, response_headers, response_body, request_headers, request_body
    ):
        self.budget_last_status, self.budget_last_headers = code, response_headers
        if code in (418, 429) and self.rate_budget is not None:
            # Tell every process sharing this account, not only the one that got the answer.
            self.rate_budget.block(retry_after_seconds(response_headers) or FALLBACK_BLOCK_SECONDS)
        return super().on_rest_response(
            code, reason, url, method, response_headers, response_body, request_headers, request_body
        )


@functools.cache
def _with_shared_budget(exchange_class: type) -> type:
    return type(f"{exchange_class.__name__}_shared_budget", (_SharedBudgetTransport, exchange_class), {})


# --- Markets ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _MarketsSnapshot:
    markets: dict[str, Market]
    without_precision: dict[str, Market]  # listed by the exchange, but not tradable by us
    ccxt_markets: list[dict]  # ccxt's own parsed markets, for client.set_markets
    loaded_at: float  # wall-clock seconds

    def payload(self) -> dict:
        return {
            "markets": [m.as_json() for m in self.markets.values()],
            "without_precision": [m.as_json() for m in self.without_precision.values()],
            "ccxt_markets": self.ccxt_markets,
            "loaded_at": self.loaded_at,
        }

    @classmethod
    def from_payload(cls, payload: dict) -> _MarketsSnapshot:
        markets = [Market.from_json(row) for row in payload["markets"]]
        without = [Market.from_json(row) for row in payload["without_precision"]]
        return cls(
            markets={m.symbol: m for m in markets}, without_precision={m.symbol: m for m in without},
            ccxt_markets=payload["ccxt_markets"], loaded_at=payload["loaded_at"],
        )


_process_markets: dict[str, _MarketsSnapshot] = {}
_process_markets_lock = threading.Lock()


def markets_cache_key(exchange_id: str, mode: str) -> str:
    return f"exchanges:markets:v1:{exchange_id}:{mode}"


def forget_process_markets() -> None:
    """Drop this process's copy of every market list (the shared cache keeps its own)."""
    with _process_markets_lock:
        _process_markets.clear()


def _markets_ttl() -> int:
    return int(getattr(settings, "MARKETS_CACHE_SECONDS", 3600))


def _plain(number: Decimal) -> Decimal:
    """0.00000001 rather than 1E-8, so ticks read naturally wherever they are shown or stored."""
    return Decimal(format(number, "f"))


def increment_from_precision(value, precision_mode: int) -> Decimal | None:
    """The price tick or amount step that ccxt's ``precision`` value means; None when unusable."""
    if value is None:
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    if precision_mode == ccxt.TICK_SIZE:
        return _plain(number) if number > 0 else None
    if precision_mode == ccxt.DECIMAL_PLACES:
        if number != number.to_integral_value():
            return None
        return _plain(Decimal(1).scaleb(-int(number)))
    raise ValueError(f"ccxt precision mode {precision_mode} has no fixed increment")  # see _download_markets


def _text(number) -> str:
    """A plain decimal string (no exponent) for ccxt, exact for Decimal input."""
    return format(Decimal(str(number)), "f")


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def market_from_ccxt(raw: dict, precision_mode: int) -> tuple[Market, bool]:
    """Our Market for one ccxt market dict, and whether it has the precision orders need."""
    precision = raw.get("precision") or {}
    limits = raw.get("limits") or {}
    tick = increment_from_precision(precision.get("price"), precision_mode)
    step = increment_from_precision(precision.get("amount"), precision_mode)
    market = Market(
        symbol=raw["symbol"], market_id=str(raw["id"]), base=raw.get("base") or "", quote=raw.get("quote") or "",
        tick_size=tick or Decimal(0), step_size=step or Decimal(0),
        min_qty=_decimal((limits.get("amount") or {}).get("min")) or Decimal(0),
        min_notional=_decimal((limits.get("cost") or {}).get("min")) or Decimal(0),
        type=raw.get("type") or "spot",
        active=raw.get("active") is not False,  # ccxt says None when the exchange does not tell
    )
    return market, tick is not None and step is not None


# --- Errors ----------------------------------------------------------------------------------


def _exchange_body(text: str) -> dict | None:
    start = text.find("{")
    if start == -1:
        return None
    try:
        body = json.loads(text[start:])
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def exchange_message_of(error: Exception, exchange_id: str) -> tuple[str, str]:
    """(the exchange's own message, its error code) from a ccxt exception's text.

    ccxt raises ``"<id> <response body>"`` or ``"<id> <message>"``; we keep the human part, and
    drop query strings from any URL (they carry request signatures).
    """
    text = str(error).strip()
    if text.startswith(exchange_id + " "):
        text = text[len(exchange_id) + 1:]
    body = _exchange_body(text)
    code = ""
    if body is not None:
        raw_code = body.get("code", body.get("retCode"))
        code = "" if raw_code is None else str(raw_code)
        for key in ("msg", "retMsg", "message", "error"):
            if isinstance(body.get(key), str) and body[key]:
                return body[key], code
    text = re.sub(r"\?\S*", "", text)
    if isinstance(error, ccxt.RequestTimeout) and "timed out" not in text:
        text = f"no answer in time ({text})"
    return text or type(error).__name__, code


# --- The connector ---------------------------------------------------------------------------


def has_testnet(client) -> bool:
    """Whether ccxt knows a sandbox (testnet) for this exchange instance."""
    return bool(client.urls.get("test"))


def no_testnet_message(exchange_id: str) -> str:
    return f"{exchange_id} has no testnet in ccxt: use live or paper mode."


class CcxtConnector(Connector):
    """A real exchange account (or just its public data, without keys) through ccxt."""

    def __init__(
        self, exchange_id: str, *, mode: str = "live", api_key: str = "", api_secret: str = "",
        password: str = "", account_key: str = "", budget: RateBudget | None = None,
        ccxt_options: dict | None = None,
    ):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r} (paper accounts use PaperConnector)")
        exchange_class = getattr(ccxt, exchange_id, None)
        if not (isinstance(exchange_class, type) and issubclass(exchange_class, ccxt.Exchange)):
            raise PermanentError(f"Unknown exchange {exchange_id!r}: ccxt has no exchange with that id.")
        self.exchange_id = exchange_id
        self.mode = mode
        config = ccxt.Exchange.deep_extend(
            DEFAULT_CCXT_CONFIG, {"apiKey": api_key, "secret": api_secret, "password": password}, ccxt_options or {}
        )
        config["enableRateLimit"] = True  # the shared budget sits on top of ccxt's limiter, not instead of it
        self.client = _with_shared_budget(exchange_class)(config)
        if mode == "testnet":
            # Exchanges without a sandbox URL either raise NotSupported or, when the URL is present
            # but empty (kraken), fail inside ccxt with a TypeError: ask first.
            if not has_testnet(self.client):
                raise PermanentError(no_testnet_message(exchange_id))
            try:
                self.client.set_sandbox_mode(True)
            except ccxt.NotSupported as exc:
                raise PermanentError(no_testnet_message(exchange_id), exchange_message=str(exc)) from exc
        if budget is None:
            # ccxt's rateLimit is milliseconds per unit of request cost; the bucket refills at the same pace.
            budget = rate_budget_for(
                exchange_id, account_key or self._anonymous_account_key(api_key),
                per_second=1000 / self.client.rateLimit,
            )
        self.budget = budget
        self.client.rate_budget = budget
        self._installed: _MarketsSnapshot | None = None

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
        raise BadSymbol(f"{self.exchange_id} has no market {symbol}.")

    def loaded_market(self, symbol: str) -> Market:
        key, ttl = markets_cache_key(self.exchange_id, self.mode), _markets_ttl()
        snapshot = self._held(key, ttl)
        if snapshot is None:
            raise MarketsNotLoaded(
                f"{self.exchange_id}'s market list is not loaded on this server right now (a worker keeps it for "
                f"{ttl} s after reading it): the next risk evaluation or order reads it; try again in a minute.")
        self._install(key, snapshot)
        return self.market(symbol)

    def resolve_symbol(self, tv_symbol: str) -> str:
        try:
            return super().resolve_symbol(tv_symbol)
        except BadSymbol as unknown:
            without = self._markets().without_precision
            try:
                symbol = resolve_tv_symbol(tv_symbol, without, exchange_id=self.exchange_id) if without else None
            except BadSymbol:
                symbol = None
            if symbol is None:
                raise unknown
            raise BadSymbol(self._missing_precision_message(symbol)) from unknown

    def _missing_precision_message(self, symbol: str) -> str:
        return (
            f"{self.exchange_id} lists {symbol} without a price tick or amount step (missing precision), "
            f"so orders for it cannot be sized; pick another market."
        )

    def _markets(self, *, reload: bool = False) -> _MarketsSnapshot:
        key = markets_cache_key(self.exchange_id, self.mode)
        ttl = _markets_ttl()
        if not reload:
            snapshot = self._held(key, ttl)
            if snapshot is not None:
                self._install(key, snapshot)
                return snapshot
        snapshot = self._download_markets()
        try:
            cache.set(key, snapshot.payload(), timeout=ttl)
        except Exception:  # the cache only saves a download; trading must not depend on it
            logger.exception("could not store %s markets in the cache", self.exchange_id)
        self._install(key, snapshot, in_client=True)  # ccxt's load_markets already set them
        return snapshot

    def _held(self, key: str, ttl: int) -> _MarketsSnapshot | None:
        """A fresh market list this connector, this process or the shared cache holds; None to download."""
        snapshot = self._fresh(self._installed, ttl) or self._fresh(_process_markets.get(key), ttl)
        return snapshot or self._fresh(self._from_shared_cache(key), ttl)

    @staticmethod
    def _fresh(snapshot: _MarketsSnapshot | None, ttl: int) -> _MarketsSnapshot | None:
        if snapshot is not None and time.time() - snapshot.loaded_at < ttl:
            return snapshot
        return None

    def _from_shared_cache(self, key: str) -> _MarketsSnapshot | None:
        try:
            payload = cache.get(key)
            return _MarketsSnapshot.from_payload(payload) if payload else None
        except Exception:
            logger.exception("could not read %s markets from the cache; loading them from the exchange",
                             self.exchange_id)
            return None

    def _install(self, key: str, snapshot: _MarketsSnapshot, *, in_client: bool = False) -> None:
        """Make ``snapshot`` this connector's markets, and ccxt's, without any HTTP request."""
        if self._installed is not snapshot and not in_client:
            # ccxt needs its own parsed markets to build orders (ids, precision, order types).
            self.client.set_markets(snapshot.ccxt_markets)
        self._installed = snapshot
        with _process_markets_lock:
            _process_markets[key] = snapshot

    def _download_markets(self) -> _MarketsSnapshot:
        if self.client.precisionMode not in (ccxt.TICK_SIZE, ccxt.DECIMAL_PLACES):
            # SIGNIFICANT_DIGITS (ccxt's bitfinex, bithumb): the tick changes with the price, so
            # there is no tick to store or to quantise a grid with. Refuse before any request.
            raise PermanentError(
                f"{self.exchange_id}: ccxt counts its precision in significant digits, which has no fixed "
                f"price tick; the engine supports exchanges with tick-size or decimal-places precision."
            )
        raw_markets = self._call(self.client.load_markets, True)
        markets, without_precision, ccxt_markets = {}, {}, []
        for raw in raw_markets.values():
            if raw.get("type") == "option" or raw.get("option"):
                continue
            market, has_precision = market_from_ccxt(raw, self.client.precisionMode)
            (markets if has_precision else without_precision)[market.symbol] = market
            ccxt_markets.append(raw)
        if without_precision:
            logger.info("%s: %d markets without precision left out: %s", self.exchange_id, len(without_precision),
                        ", ".join(sorted(without_precision)[:10]))
        return _MarketsSnapshot(markets, without_precision, ccxt_markets, loaded_at=time.time())

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
        last = _decimal(raw.get("last")) or _decimal(raw.get("close"))
        if last is None:
            raise RetryableError(f"{self.exchange_id} gave no last price for {symbol}.")
        return Ticker(
            symbol=symbol, last=last, bid=_decimal(raw.get("bid")), ask=_decimal(raw.get("ask")),
            timestamp=_datetime(raw.get("timestamp")),
        )

    def balance(self) -> Balance:
        self._markets()
        raw = self._call(self.client.fetch_balance)
        free = {asset: amount for asset, value in (raw.get("free") or {}).items() if (amount := _decimal(value))}
        used = {asset: amount for asset, value in (raw.get("used") or {}).items() if (amount := _decimal(value))}
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
            fresh = [candle for candle in map(_candle, rows or [])
                     if candle is not None and candle.opened_at * 1000 >= since_ms and candle.opened_at not in candles]
            if not fresh:
                break
            candles.update((candle.opened_at, candle) for candle in fresh)
            if len(candles) >= limit:
                break
            since_ms = max(candles) * 1000 + size_ms
        return [candles[start] for start in sorted(candles)][:limit]

    # --- orders --------------------------------------------------------------------------

    def create_order(
        self, *, symbol: str, side: str, type: str, amount: Decimal, price: Decimal | None, client_order_id: str
    ) -> ExchangeOrder:
        if side not in ("buy", "sell") or type not in ("limit", "market"):
            raise InvalidOrder(f"Unsupported order {side} {type}: the engine sends buy/sell limit/market orders.")
        if not client_order_id or len(client_order_id) > MAX_CLIENT_ORDER_ID_LENGTH:
            raise InvalidOrder(
                f"Client order id {client_order_id!r} must be 1-{MAX_CLIENT_ORDER_ID_LENGTH} characters."
            )
        if type == "limit" and price is None:
            raise InvalidOrder(f"A limit order on {symbol} needs a price.")
        self.market(symbol)  # BadSymbol (unknown, or missing precision) before anything is sent
        # Strings in, strings out: ccxt cuts them to the market's step/tick with Decimal arithmetic.
        amount_text = self._call(self.client.amount_to_precision, symbol, _text(amount))
        # A market order goes out without a price: given one, Binance and Bybit would turn the
        # amount into a quote-currency cost (amount × price) instead of a base quantity.
        price_text = self._call(self.client.price_to_precision, symbol, _text(price)) if type == "limit" else None
        raw = self._call(
            self.client.create_order, symbol, type, side, amount_text, price_text, {"clientOrderId": client_order_id},
            creating_order=True,
        )
        return self._order(
            raw, symbol=symbol, client_order_id=client_order_id,
            sent={"side": side, "type": type, "amount": Decimal(amount_text),
                  "price": Decimal(price_text) if price_text else None},
        )

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
        trades = []
        for trade in raw:
            fee, fee_currency = self._fee(trade)
            trades.append(Trade(id=str(trade.get("id") or ""), order_id=str(trade.get("order") or id),
                                amount=_decimal(trade.get("amount")) or Decimal(0),
                                price=_decimal(trade.get("price")) or Decimal(0), fee=fee, fee_currency=fee_currency))
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
        price = _decimal(raw.get("price"))
        return ExchangeOrder(
            id=str(raw.get("id") or ""),
            # On a cancel Binance reports a fresh clientOrderId for the cancel request itself;
            # the id we placed the order with is origClientOrderId.
            client_order_id=(info.get("origClientOrderId") if isinstance(info, dict) else None)
            or raw.get("clientOrderId") or client_order_id,
            symbol=raw.get("symbol") or symbol,
            side=raw.get("side") or sent.get("side", ""),
            type=raw.get("type") or sent.get("type", ""),
            amount=_decimal(raw.get("amount")) or sent.get("amount") or Decimal(0),
            price=price if price else sent.get("price"),
            status=status,
            filled=_decimal(raw.get("filled")) or Decimal(0),
            average=_decimal(raw.get("average")) or None,
            fee=fee,
            fee_currency=fee_currency,
            timestamp=_datetime(raw.get("timestamp")),
        )

    def _fee(self, raw: dict) -> tuple[Decimal, str]:
        fees = [fee for fee in (raw.get("fees") or [raw.get("fee")]) if fee and fee.get("cost") is not None]
        by_currency: dict[str, Decimal] = {}
        for fee in fees:
            currency = fee.get("currency") or ""
            by_currency[currency] = by_currency.get(currency, Decimal(0)) + (_decimal(fee["cost"]) or Decimal(0))
        if not by_currency:
            return Decimal(0), ""
        if len(by_currency) > 1:
            logger.warning("%s order %s paid fees in several currencies %s; reporting the first",
                           self.exchange_id, raw.get("id"), by_currency)
        currency, cost = next(iter(by_currency.items()))
        return cost, currency

    def _call(self, function, *args, creating_order: bool = False):
        """Run one ccxt call, turning its exceptions into ours."""
        try:
            return function(*args)
        except ccxt.BaseError as exc:
            error = self._translate(exc, creating_order=creating_order)
            if not _SIGNED_URL.search(str(exc)):
                raise error from exc
        # ccxt's text names the request URL with its signature (Binance) or API key (HTX AccessKeyId),
        # and so would any traceback that chains it: ours keeps only the cleaned message. Raised
        # outside the except block, so not even __context__ holds the original.
        raise error

    def _translate(self, error: ccxt.BaseError, *, creating_order: bool):
        exchange = self.exchange_id
        message, code = exchange_message_of(error, exchange)
        lowered = message.lower()
        if isinstance(error, ccxt.OrderNotFound) or any(text in lowered for text in ORDER_NOT_FOUND_MESSAGES):
            return OrderNotFound(f"{exchange} does not know this order: {message}", exchange_message=message)
        if isinstance(error, (ccxt.DDoSProtection, ccxt.RateLimitExceeded)):
            retry_after = retry_after_seconds(self.client.budget_last_headers)
            if self.client.budget_last_status not in (418, 429):
                # A rate limit said in the body (Bybit retCode 10006 comes with HTTP 200): the
                # transport hook did not see it, so pause the other workers from here.
                self.budget.block(retry_after or FALLBACK_BLOCK_SECONDS)
            wait = f" for {retry_after:.0f} s" if retry_after else ""
            return RateLimited(f"{exchange} asked us to slow down{wait}: {message}", exchange_message=message,
                               retry_after=retry_after)
        if creating_order and (isinstance(error, ccxt.DuplicateOrderId) or "duplicate" in lowered):
            # Binance -2010 "Duplicate order sent.", Bybit 110072 "OrderLinkedID is duplicate": the
            # client id we sent is already taken, i.e. an earlier attempt of this very order got through.
            return OrderStatusUnknown(
                f"{exchange} already has an order with this client order id; look it up instead of sending it "
                f"again: {message}", exchange_message=message,
            )
        if isinstance(error, ccxt.OperationFailed) or code in STATUS_UNKNOWN_CODES or "status unknown" in lowered:
            if creating_order:
                # Timeouts, 5xx and "execution status unknown": the order may well exist.
                return OrderStatusUnknown(
                    f"{exchange} did not confirm the order, so it may or may not exist; look it up by "
                    f"client order id before sending it again: {message}", exchange_message=message,
                )
            return RetryableError(f"{exchange} is unreachable or busy; try again shortly: {message}",
                                  exchange_message=message)
        if isinstance(error, ccxt.InsufficientFunds):
            return InsufficientFunds(f"Not enough balance on {exchange} for this order: {message}",
                                     exchange_message=message)
        if isinstance(error, ccxt.BadSymbol):
            return BadSymbol(f"{exchange} does not trade this market: {message}", exchange_message=message)
        if isinstance(error, ccxt.InvalidOrder):
            return InvalidOrder(f"{exchange} rejected the order: {message}", exchange_message=message)
        if isinstance(error, ccxt.AuthenticationError):  # includes PermissionDenied
            return AuthenticationFailed(
                f"{exchange} refused the API key: check the key, its secret and its trading permission "
                f"(and IP whitelist). {message}", exchange_message=message,
            )
        return PermanentError(f"{exchange} refused the request: {message}", exchange_message=message)


# Pages of candles one fetch_candles may ask for: 1,000 candles from an exchange that pages by 100.
MAX_CANDLE_PAGES = 10


@functools.cache
def ccxt_candle_intervals(exchange_id: str) -> list[int]:
    """The candle intervals (minutes) ccxt serves for an exchange, from its class (no request)."""
    client = getattr(ccxt, exchange_id)()
    if not client.has.get("fetchOHLCV"):
        return []
    return sorted({minutes for code in (client.timeframes or {}) if (minutes := timeframe_minutes(code))})


def _candle(row) -> Candle | None:
    """One ccxt OHLCV row ``[ms, open, high, low, close, volume]``; None when a price is missing."""
    if not row or len(row) < 5:
        return None
    prices = [_decimal(value) for value in row[1:5]]
    if any(price is None for price in prices):
        return None
    return Candle(int(row[0]) // 1000, *prices)


def _datetime(milliseconds) -> datetime | None:
    if milliseconds is None:
        return None
    return datetime.fromtimestamp(int(milliseconds) / 1000, tz=UTC)
