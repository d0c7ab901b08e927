"""CcxtConnector against ccxt's own binance and bybit classes, with only the network replaced.

Each test starts an HTTP server on 127.0.0.1 that answers like the exchange, from responses in the
exchange's documented format (tests/exchanges/recorded/*.json), and points every ccxt URL at it.
ccxt signs, encodes, parses and maps errors exactly as it would against the real exchange; the
tests then check what reached the "exchange" (paths, client order ids, amount and price strings)
and what a trader gets back (Decimals, statuses, errors). An autouse guard refuses any connection
that is not to loopback, so nothing can leak to a real host.
"""

import copy
import json
import re
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import ccxt
import pytest
from django.core.cache import cache

from exchanges.ccxt.connector import CcxtConnector
from exchanges.ccxt.errors import translate
from exchanges.ccxt.markets import forget_process_markets, market_from_ccxt, markets_cache_key
from exchanges.ccxt.precision import increment_from_precision
from exchanges.connector import (
    AuthenticationFailed,
    BadSymbol,
    InsufficientFunds,
    MarketsNotLoaded,
    OrderNotFound,
    OrderStatusUnknown,
    PermanentError,
    RateLimited,
    RetryableError,
)

RECORDED = Path(__file__).parent / "recorded"
# The engine's buy leg on SOL/USDT (binance_order_new_full.json is its answer), for the tests of what goes wrong.
SOL_LEG = {
    "symbol": "SOL/USDT",
    "side": "buy",
    "type": "limit",
    "amount": Decimal("2.025"),
    "price": Decimal("99"),
    "client_order_id": "dce-1-2-0",
}
BINANCE_1007 = {
    "code": -1007,
    "msg": "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
}
BINANCE_2010 = {"code": -2010, "msg": "Account has insufficient balance for requested action."}
BINANCE_2013 = {"code": -2013, "msg": "Order does not exist."}
BINANCE_1003 = {
    "code": -1003,
    "msg": "Too much request weight used; current limit is 6000 request weight per 1 MINUTE. "
    "Please use WebSocket Streams for live updates to avoid polling the API.",
}


def recorded(name: str):
    return json.loads((RECORDED / name).read_text())


# --- A loopback exchange ---------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    params: dict  # query string and form/JSON body together, as the exchange would read them
    headers: dict


@dataclass
class Reply:
    body: object = None
    status: int = 200
    headers: dict = field(default_factory=dict)
    delay: float = 0.0


class FakeExchange:
    """An HTTP server on 127.0.0.1 that answers registered routes and records every request."""

    def __init__(self):
        self.routes: dict[tuple[str, str], Callable[[Request], Reply] | Reply] = {}
        self.requests: list[Request] = []
        self.unrouted: list[Request] = []
        exchange = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw_body = self.rfile.read(length).decode() if length else ""
                params = dict(parse_qsl(url.query, keep_blank_values=True))
                if raw_body:
                    if raw_body.lstrip().startswith("{"):
                        params.update(json.loads(raw_body))
                    elif raw_body.lstrip().startswith("["):  # a batch of one (OKX places orders so)
                        [item] = json.loads(raw_body)
                        params.update(item)
                    else:
                        params.update(parse_qsl(raw_body, keep_blank_values=True))
                request = Request(self.command, url.path, params, dict(self.headers))
                exchange.requests.append(request)
                route = exchange.routes.get((self.command, url.path))
                if route is None:
                    exchange.unrouted.append(request)
                    reply = Reply({"code": -1, "msg": f"no route for {self.command} {url.path}"}, status=404)
                else:
                    reply = route(request) if callable(route) else route
                time.sleep(reply.delay)
                payload = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json;charset=UTF-8")
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload.encode())))
                    self.end_headers()
                    self.wfile.write(payload.encode())
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            do_GET = do_POST = do_DELETE = do_PUT = _handle

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def route(self, method: str, path: str, reply):
        self.routes[(method, path)] = reply

    def sent(self, method: str, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def loopback_urls(exchange_id: str, base_url: str) -> dict:
    """ccxt's URLs for ``exchange_id`` with every host replaced by the loopback server.

    Live URLs map to ``base_url``, sandbox URLs to ``base_url/testnet``, so a test can tell them apart.
    """
    urls = copy.deepcopy(getattr(ccxt, exchange_id)().urls)  # constructing a ccxt class sends nothing

    def rewrite(value, prefix):
        if isinstance(value, str):
            return re.sub(r"^https?://[^/]+", base_url + prefix, value)
        if isinstance(value, dict):
            return {key: rewrite(item, prefix) for key, item in value.items()}
        return value

    return {"api": rewrite(urls["api"], ""), "test": rewrite(urls.get("test", {}), "/testnet")}


def all_urls_are_loopback(client) -> bool:
    found = []

    def walk(value):
        if isinstance(value, str) and value.startswith("http"):
            found.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    walk(client.urls["api"])
    return bool(found) and all(url.startswith("http://127.0.0.1:") for url in found)


# --- Fixtures --------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Refuse any TCP connection that is not to this machine: tests must never reach a real exchange."""
    real_connect = socket.socket.connect

    def connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in ("127.0.0.1", "::1", "localhost"):
            raise OSError(f"test tried to reach {address!r}; only 127.0.0.1 is allowed")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture(autouse=True)
def fresh_markets():
    """Every test starts with no market list cached, in this process or in the shared cache."""

    def clear():
        forget_process_markets()
        for exchange_id in ("binance", "bybit", "decimalsx", "sigdigitsx"):
            for mode in ("live", "testnet"):
                cache.delete(markets_cache_key(exchange_id, mode))

    clear()
    yield
    clear()


@pytest.fixture
def exchange():
    server = FakeExchange()
    yield server
    server.stop()
    assert not server.unrouted, (
        f"ccxt called endpoints the test did not expect: {[(r.method, r.path) for r in server.unrouted]}"
    )


@pytest.fixture
def account_key():
    # A fresh account per test, so one test's rate-limit block cannot pause another.
    return f"test-{uuid.uuid4().hex[:12]}"


def binance_connector(
    server: FakeExchange, account_key: str, *, mode: str = "live", timeout_ms: int = 2000
) -> CcxtConnector:
    connector = CcxtConnector(
        "binance",
        mode=mode,
        api_key="test-key",
        api_secret="test-secret",
        account_key=account_key,
        ccxt_options={
            "urls": loopback_urls("binance", server.url),
            "timeout": timeout_ms,
            "options": {"fetchMarkets": {"types": ["spot"]}},  # spot exchangeInfo only
        },
    )
    assert all_urls_are_loopback(connector.client)
    return connector


@pytest.fixture
def binance(exchange, account_key):
    exchange.route("GET", "/api/v3/exchangeInfo", Reply(recorded("binance_exchange_info.json")))
    return binance_connector(exchange, account_key)


def echo_binance_order(template: str) -> Callable[[Request], Reply]:
    """Binance's answer to POST /api/v3/order: the recorded order, carrying what was sent."""

    def reply(request: Request) -> Reply:
        order = recorded(template)
        order.update(
            symbol=request.params["symbol"],
            clientOrderId=request.params["newClientOrderId"],
            side=request.params["side"],
            type=request.params["type"],
            origQty=request.params["quantity"],
        )
        if "price" in request.params:
            order["price"] = request.params["price"]
        return Reply(order)

    return reply


def bybit_connector(server: FakeExchange, account_key: str, market_type: str = "spot") -> CcxtConnector:
    # A spot account's ccxt client (as before swap accounts) lists spot and linear markets; a swap account's
    # lists linear perpetuals only (exchanges.ccxt.transport's swap options).
    options = {"options": {"fetchMarkets": {"types": ["spot", "linear"]}}} if market_type == "spot" else {}
    connector = CcxtConnector(
        "bybit",
        api_key="test-key",
        api_secret="test-secret",
        account_key=account_key,
        market_type=market_type,
        ccxt_options={"urls": loopback_urls("bybit", server.url), "timeout": 2000, **options},
    )
    assert all_urls_are_loopback(connector.client)
    return connector


@pytest.fixture
def bybit(exchange, account_key):
    def instruments(request: Request) -> Reply:
        if request.params.get("status") == "PreLaunch":
            return Reply(
                {
                    "retCode": 0,
                    "retMsg": "OK",
                    "result": {"category": request.params["category"], "list": [], "nextPageCursor": ""},
                    "retExtInfo": {},
                    "time": 1718000000000,
                }
            )
        return Reply(recorded(f"bybit_instruments_{request.params['category']}.json"))

    exchange.route("GET", "/v5/market/instruments-info", instruments)
    # Bybit's ccxt asks once per process whether the account is a unified trading account.
    exchange.route("GET", "/v5/user/query-api", Reply(recorded("bybit_user_query_api.json")))
    exchange.route("GET", "/v5/account/info", Reply(recorded("bybit_account_info.json")))
    return bybit_connector(exchange, account_key)


def bybit_empty_list(category="spot") -> Reply:
    return Reply(
        {
            "retCode": 0,
            "retMsg": "OK",
            "result": {"nextPageCursor": "", "category": category, "list": []},
            "retExtInfo": {},
            "time": 1718000170000,
        }
    )


# --- Binance: markets and symbols ------------------------------------------------------------


def test_binance_markets_carry_tick_step_and_minimums(binance, exchange):
    markets = binance.load_markets()

    btc = markets["BTC/USDT"]
    assert (btc.market_id, btc.base, btc.quote, btc.type) == ("BTCUSDT", "BTC", "USDT", "spot")
    assert btc.tick_size == Decimal("0.01") and btc.step_size == Decimal("0.00001")
    assert btc.min_qty == Decimal("0.00001") and btc.min_notional == Decimal("5")
    xrp = markets["XRP/USDT"]  # the older MIN_NOTIONAL filter
    assert (xrp.tick_size, xrp.step_size, xrp.min_qty, xrp.min_notional) == (
        Decimal("0.0001"),
        Decimal("0.1"),
        Decimal("0.1"),
        Decimal("5"),
    )
    assert "NEW/USDT" not in markets  # no PRICE_FILTER / LOT_SIZE: cannot be sized
    assert [r.path for r in exchange.requests] == ["/api/v3/exchangeInfo"]


@pytest.mark.parametrize("tv_symbol", ["BTCUSDT", "BINANCE:BTCUSDT", "BTC/USDT", "btcusdt"])
def test_tradingview_symbols_resolve_to_the_listed_market(binance, tv_symbol):
    assert binance.resolve_symbol(tv_symbol) == "BTC/USDT"


def test_unknown_market_is_a_clear_bad_symbol(binance):
    with pytest.raises(BadSymbol, match="Unknown market 'DOGEUSDT' on binance"):
        binance.resolve_symbol("DOGEUSDT")


def test_market_without_precision_says_so(binance, exchange):
    with pytest.raises(BadSymbol, match="missing precision"):
        binance.resolve_symbol("NEWUSDT")
    with pytest.raises(BadSymbol, match="missing precision"):
        binance.create_order(
            symbol="NEW/USDT",
            side="buy",
            type="limit",
            amount=Decimal("1"),
            price=Decimal("1"),
            client_order_id="dce-9-9-9",
        )
    assert exchange.sent("POST", "/api/v3/order") == []


def test_markets_come_from_the_shared_cache_in_another_process(binance, exchange, account_key):
    """A second worker places an order without downloading exchangeInfo again."""
    binance.load_markets()
    forget_process_markets()  # what a different process would start with
    exchange.route("POST", "/api/v3/order", echo_binance_order("binance_order_new_full.json"))

    other_worker = binance_connector(exchange, account_key)
    assert other_worker.client.markets is None
    symbol = other_worker.resolve_symbol("BINANCE:SOLUSDT")
    order = other_worker.create_order(
        symbol=symbol,
        side="buy",
        type="limit",
        amount=Decimal("2.025"),
        price=Decimal("99"),
        client_order_id="dce-1-2-0",
    )

    assert order.status == "open" and order.amount == Decimal("2.025")
    assert len(exchange.sent("GET", "/api/v3/exchangeInfo")) == 1
    assert len(exchange.sent("POST", "/api/v3/order")) == 1
    assert other_worker.market("SOL/USDT").tick_size == Decimal("0.01")


def test_a_loaded_market_comes_from_a_held_list_and_never_downloads_one(binance, exchange, account_key):
    """What web requests use (the risk status): a market list on this server, or a clear refusal; never
    a download of exchangeInfo inside the request."""
    with pytest.raises(MarketsNotLoaded, match="binance's market list is not loaded on this server"):
        binance.loaded_market("SOL/USDT")
    assert exchange.sent("GET", "/api/v3/exchangeInfo") == []

    binance.load_markets()  # a worker reads the list
    forget_process_markets()  # a web process: only the shared cache holds it
    web = binance_connector(exchange, account_key)

    assert web.loaded_market("SOL/USDT").tick_size == Decimal("0.01")
    assert len(exchange.sent("GET", "/api/v3/exchangeInfo")) == 1  # the worker's download only


def test_testnet_uses_the_sandbox_urls_and_its_own_market_cache(exchange, account_key):
    exchange.route("GET", "/testnet/api/v3/exchangeInfo", Reply(recorded("binance_exchange_info.json")))
    testnet = binance_connector(exchange, account_key, mode="testnet")

    assert "BTC/USDT" in testnet.load_markets()
    assert [r.path for r in exchange.requests] == ["/testnet/api/v3/exchangeInfo"]
    assert cache.get(markets_cache_key("binance", "testnet")) is not None
    assert cache.get(markets_cache_key("binance", "live")) is None


# --- Binance: orders -------------------------------------------------------------------------


def test_limit_order_goes_out_at_market_precision_with_our_client_id(binance, exchange):
    exchange.route("POST", "/api/v3/order", echo_binance_order("binance_order_new_full.json"))

    order = binance.create_order(
        symbol="SOL/USDT",
        side="buy",
        type="limit",
        amount=Decimal("2.0259"),
        price=Decimal("99.01"),
        client_order_id="dce-1-2-0",
    )

    [sent] = exchange.sent("POST", "/api/v3/order")
    assert sent.params["newClientOrderId"] == "dce-1-2-0"
    assert sent.params["symbol"] == "SOLUSDT" and sent.params["side"] == "BUY" and sent.params["type"] == "LIMIT"
    assert sent.params["quantity"] == "2.025"  # step 0.001, cut down, never rounded up
    assert sent.params["price"] == "99.01"
    assert sent.params["timeInForce"] == "GTC"
    assert order.id == "8112476221" and order.client_order_id == "dce-1-2-0"
    assert (order.symbol, order.side, order.type, order.status) == ("SOL/USDT", "buy", "limit", "open")
    assert order.amount == Decimal("2.025") and order.price == Decimal("99.01")
    assert order.filled == Decimal("0") and order.remaining == Decimal("2.025")


def test_market_order_sends_a_base_quantity_and_reports_fills_and_fees(binance, exchange):
    exchange.route("POST", "/api/v3/order", echo_binance_order("binance_order_market_filled_full.json"))

    order = binance.create_order(
        symbol="BTC/USDT",
        side="buy",
        type="market",
        amount=Decimal("0.01"),
        price=Decimal("67000"),
        client_order_id="dce-1-3-0",
    )

    [sent] = exchange.sent("POST", "/api/v3/order")
    assert sent.params["quantity"] == "0.01"
    assert "quoteOrderQty" not in sent.params and "price" not in sent.params
    assert order.status == "closed"
    assert order.filled == Decimal("0.01") and order.remaining == Decimal("0")
    assert order.average == Decimal("67001.6")
    assert order.fee == Decimal("0.00001") and order.fee_currency == "BTC"
    assert order.timestamp == datetime(2024, 6, 10, 6, 16, 40, 456000, tzinfo=UTC)


def test_fetch_order_by_client_order_id(binance, exchange):
    exchange.route("GET", "/api/v3/order", Reply(recorded("binance_order_query.json")))

    order = binance.fetch_order(symbol="SOL/USDT", client_order_id="dce-1-2-0")

    [sent] = exchange.sent("GET", "/api/v3/order")
    assert sent.params["origClientOrderId"] == "dce-1-2-0" and "orderId" not in sent.params
    assert order.status == "open" and order.filled == Decimal("0.5") and order.average == Decimal("99")
    assert order.amount == Decimal("2.025") and order.remaining == Decimal("1.525")


def test_binance_order_queries_carry_no_fee_and_its_trades_do(binance, exchange):
    # Row 7 of the books review: the fee was read from order queries, where Binance reports none.
    exchange.route("GET", "/api/v3/order", Reply(recorded("binance_order_query.json")))
    exchange.route(
        "GET",
        "/api/v3/myTrades",
        Reply(
            [
                {
                    "symbol": "SOLUSDT",
                    "id": 71001,
                    "orderId": 8112476221,
                    "orderListId": -1,
                    "price": "99.00000000",
                    "qty": "0.30000000",
                    "quoteQty": "29.70000000",
                    "commission": "0.00030000",
                    "commissionAsset": "SOL",
                    "time": 1718000100000,
                    "isBuyer": True,
                    "isMaker": True,
                    "isBestMatch": True,
                },
                {
                    "symbol": "SOLUSDT",
                    "id": 71002,
                    "orderId": 8112476221,
                    "orderListId": -1,
                    "price": "99.00000000",
                    "qty": "0.20000000",
                    "quoteQty": "19.80000000",
                    "commission": "0.00020000",
                    "commissionAsset": "SOL",
                    "time": 1718000101000,
                    "isBuyer": True,
                    "isMaker": True,
                    "isBestMatch": True,
                },
            ]
        ),
    )

    queried = binance.fetch_order(symbol="SOL/USDT", client_order_id="dce-1-2-0")
    trades = binance.fetch_order_trades(symbol="SOL/USDT", client_order_id="dce-1-2-0")

    assert queried.filled == Decimal("0.5") and not queried.fee_reported
    [sent] = exchange.sent("GET", "/api/v3/myTrades")
    assert sent.params["orderId"] == "8112476221" and sent.params["symbol"] == "SOLUSDT"
    assert [(t.amount, t.fee, t.fee_currency) for t in trades] == [
        (Decimal("0.3"), Decimal("0.0003"), "SOL"),
        (Decimal("0.2"), Decimal("0.0002"), "SOL"),
    ]


def test_fetch_order_by_exchange_id(binance, exchange):
    exchange.route("GET", "/api/v3/order", Reply(recorded("binance_order_query.json")))

    order = binance.fetch_order(symbol="SOL/USDT", id="8112476221")

    [sent] = exchange.sent("GET", "/api/v3/order")
    assert sent.params["orderId"] == "8112476221" and "origClientOrderId" not in sent.params
    assert order.client_order_id == "dce-1-2-0"


def test_order_binance_does_not_know_is_order_not_found(binance, exchange):
    exchange.route("GET", "/api/v3/order", Reply(BINANCE_2013, status=400))

    with pytest.raises(OrderNotFound) as raised:
        binance.fetch_order(symbol="SOL/USDT", client_order_id="dce-1-2-0")
    assert raised.value.exchange_message == "Order does not exist."


def test_cancel_reports_the_order_under_our_client_id(binance, exchange):
    exchange.route("DELETE", "/api/v3/order", Reply(recorded("binance_order_cancel.json")))

    order = binance.cancel_order(symbol="SOL/USDT", client_order_id="dce-1-2-0")

    [sent] = exchange.sent("DELETE", "/api/v3/order")
    assert sent.params["origClientOrderId"] == "dce-1-2-0"
    assert order.status == "canceled" and order.filled == Decimal("0.5")
    assert order.client_order_id == "dce-1-2-0"  # not the id Binance gave the cancel request


def test_open_and_closed_orders(binance, exchange):
    exchange.route("GET", "/api/v3/openOrders", Reply(recorded("binance_open_orders.json")))
    exchange.route("GET", "/api/v3/allOrders", Reply(recorded("binance_all_orders.json")))
    since = datetime(2024, 6, 10, 6, 0, tzinfo=UTC)

    open_orders = binance.fetch_open_orders("SOL/USDT")
    closed = binance.fetch_closed_orders("SOL/USDT", since=since)

    assert [(o.client_order_id, o.status, o.filled) for o in open_orders] == [
        ("dce-1-2-0", "open", Decimal("0")),
        ("dce-1-2-1", "open", Decimal("1")),
    ]
    assert [(o.client_order_id, o.status, o.filled) for o in closed] == [
        ("dce-1-1-0", "closed", Decimal("1.98")),
        ("dce-1-1-1", "canceled", Decimal("0.4")),
        ("dce-1-1-2", "canceled", Decimal("0")),  # EXPIRED: it will never fill
    ]
    [sent] = exchange.sent("GET", "/api/v3/allOrders")
    assert sent.params["startTime"] == str(int(since.timestamp() * 1000))


def test_tickers_for_many_symbols_take_one_request(binance, exchange):
    def tickers(request: Request) -> Reply:
        wanted = json.loads(request.params["symbols"])
        return Reply([t for t in recorded("binance_ticker_24hr.json") if t["symbol"] in wanted])

    exchange.route("GET", "/api/v3/ticker/24hr", tickers)

    result = binance.tickers(["BTC/USDT", "SOL/USDT"])

    assert len(exchange.sent("GET", "/api/v3/ticker/24hr")) == 1
    assert result["BTC/USDT"].last == Decimal("67001") and result["BTC/USDT"].bid == Decimal("67000.99")
    assert result["SOL/USDT"].last == Decimal("99.05") and result["SOL/USDT"].ask == Decimal("99.05")


def binance_klines(page_size: int, last_open_ms: int) -> Callable[[Request], Reply]:
    """Binance's GET /api/v3/klines: 15-minute candles from startTime, at most ``page_size`` (as Binance caps
    ``limit``), none after ``last_open_ms``; prices as strings, as Binance sends them."""

    def reply(request: Request) -> Reply:
        assert request.params["interval"] == "15m" and request.params["symbol"] == "BTCUSDT"
        start, limit = int(request.params["startTime"]), min(int(request.params["limit"]), page_size)
        rows = []
        for opened in range(start, last_open_ms + 1, 900_000)[:limit]:
            base = 67000 + (opened - start) // 900_000
            rows.append(
                [
                    opened,
                    f"{base}.10",
                    f"{base + 5}.00",
                    f"{base - 5}.00",
                    f"{base + 1}.20",
                    "12.5",
                    opened + 899_999,
                    "837500.0",
                    100,
                    "6.0",
                    "402000.0",
                    "0",
                ]
            )
        return Reply(rows)

    return reply


def test_candles_come_from_binance_klines_page_after_page_as_decimals(binance, exchange):
    # Given Binance answering at most 500 candles a request, and 1,000 candles asked from 2026-01-01 00:00 UTC
    since = datetime(2026, 1, 1, tzinfo=UTC)
    since_ms = int(since.timestamp() * 1000)
    exchange.route("GET", "/api/v3/klines", binance_klines(500, since_ms + 1199 * 900_000))

    candles = binance.fetch_candles("BTC/USDT", interval_minutes=15, since=since, limit=1000)

    # Then two requests, each starting after the last candle it had, bring the 1,000 candles in order
    starts = [int(request.params["startTime"]) for request in exchange.sent("GET", "/api/v3/klines")]
    assert starts == [since_ms, since_ms + 500 * 900_000]
    assert len(candles) == 1000
    assert candles[0].opened_at == since_ms // 1000 and candles[-1].opened_at == since_ms // 1000 + 999 * 900
    first = candles[0]
    assert (first.open, first.high, first.low, first.close) == (
        Decimal("67000.10"),
        Decimal("67005.00"),
        Decimal("66995.00"),
        Decimal("67001.20"),
    )


def test_candles_stop_at_the_last_one_the_exchange_has(binance, exchange):
    since = datetime(2026, 1, 1, tzinfo=UTC)
    since_ms = int(since.timestamp() * 1000)
    exchange.route("GET", "/api/v3/klines", binance_klines(1000, since_ms + 9 * 900_000))

    candles = binance.fetch_candles("BTC/USDT", interval_minutes=15, since=since, limit=1000)

    assert len(candles) == 10
    assert len(exchange.sent("GET", "/api/v3/klines")) == 2  # the second answer brought nothing new


def test_binance_serves_its_own_candle_intervals(binance):
    intervals = binance.candle_intervals()

    assert {1, 15, 60, 240, 1440, 10080, 43200} <= set(intervals) and intervals == sorted(intervals)
    with pytest.raises(PermanentError, match="no 45m candles"):
        binance.fetch_candles("BTC/USDT", interval_minutes=45, since=datetime(2026, 1, 1, tzinfo=UTC), limit=10)


def test_balance_splits_free_and_in_orders(binance, exchange):
    exchange.route("GET", "/api/v3/account", Reply(recorded("binance_account.json")))

    balance = binance.balance()

    assert balance.free["USDT"] == Decimal("1250.75") and balance.used["USDT"] == Decimal("200.495")
    assert balance.total("USDT") == Decimal("1451.245")
    assert balance.free["BTC"] == Decimal("0.01234567")
    assert balance.total("SOL") == Decimal("0")


# --- Binance: errors -------------------------------------------------------------------------


def test_timeout_on_a_lookup_is_retryable(exchange, account_key):
    exchange.route("GET", "/api/v3/exchangeInfo", Reply(recorded("binance_exchange_info.json")))
    exchange.route("GET", "/api/v3/order", Reply(recorded("binance_order_query.json"), delay=1.5))
    connector = binance_connector(exchange, account_key, timeout_ms=300)

    with pytest.raises(RetryableError) as raised:
        connector.fetch_order(symbol="SOL/USDT", client_order_id="dce-1-2-0")
    assert not isinstance(raised.value, OrderStatusUnknown)


def test_timeout_on_placement_means_status_unknown(exchange, account_key):
    exchange.route("GET", "/api/v3/exchangeInfo", Reply(recorded("binance_exchange_info.json")))
    exchange.route("POST", "/api/v3/order", Reply(recorded("binance_order_new_full.json"), delay=1.5))
    connector = binance_connector(exchange, account_key, timeout_ms=300)

    with pytest.raises(OrderStatusUnknown):
        connector.create_order(**SOL_LEG)


def test_binance_1007_means_status_unknown(binance, exchange):
    exchange.route("POST", "/api/v3/order", Reply(BINANCE_1007, status=503))

    with pytest.raises(OrderStatusUnknown) as raised:
        binance.create_order(**SOL_LEG)
    assert raised.value.exchange_message == BINANCE_1007["msg"]


def test_binance_2010_is_insufficient_funds(binance, exchange):
    exchange.route("POST", "/api/v3/order", Reply(BINANCE_2010, status=400))

    with pytest.raises(InsufficientFunds) as raised:
        binance.create_order(**SOL_LEG)
    assert raised.value.exchange_message == "Account has insufficient balance for requested action."
    assert "insufficient balance" in str(raised.value)


def test_duplicate_client_order_id_means_an_earlier_attempt_got_through(binance, exchange):
    exchange.route("POST", "/api/v3/order", Reply({"code": -2010, "msg": "Duplicate order sent."}, status=400))

    with pytest.raises(OrderStatusUnknown) as raised:
        binance.create_order(**SOL_LEG)
    assert raised.value.exchange_message == "Duplicate order sent."


def test_an_error_naming_the_signed_url_is_raised_without_it(binance, exchange):
    # Given Binance answering a signed request with a load balancer's 503 page, which ccxt reports as
    # "binance GET http://…/api/v3/account?timestamp=…&signature=<sig> 503 Service Unavailable …"
    exchange.route("GET", "/api/v3/account", Reply("<html><body>503 Service Unavailable</body></html>", status=503))

    with pytest.raises(RetryableError) as raised:
        binance.balance()

    # Then the error the engine gets, and any traceback of it, says what failed without the signature
    signature = exchange.sent("GET", "/api/v3/account")[0].params["signature"]
    printed = "".join(traceback.format_exception(raised.value))
    assert signature not in printed and "signature=" not in printed
    assert raised.value.__cause__ is None and raised.value.__context__ is None
    assert "binance is unreachable or busy" in str(raised.value)
    assert "/api/v3/account 503 Service Unavailable" in raised.value.exchange_message


def test_rejected_api_key_is_authentication_failed(binance, exchange):
    exchange.route(
        "GET",
        "/api/v3/account",
        Reply({"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}, status=401),
    )

    with pytest.raises(AuthenticationFailed) as raised:
        binance.balance()
    assert raised.value.exchange_message == "Invalid API-key, IP, or permissions for action."


def test_429_honours_retry_after_for_every_worker_of_the_account(binance, exchange, account_key):
    exchange.route("GET", "/api/v3/openOrders", Reply(BINANCE_1003, status=429, headers={"Retry-After": "7"}))

    with pytest.raises(RateLimited) as raised:
        binance.fetch_open_orders("SOL/USDT")
    assert raised.value.retry_after == 7

    # Another worker process on the same account: refused without sending anything.
    sent_before = len(exchange.requests)
    other_worker = binance_connector(exchange, account_key)
    with pytest.raises(RateLimited) as blocked:
        other_worker.fetch_open_orders("SOL/USDT")
    assert 6 < blocked.value.retry_after <= 7
    assert len(exchange.requests) == sent_before

    # A different account is not held back.
    exchange.route("GET", "/api/v3/openOrders", Reply(recorded("binance_open_orders.json")))
    other_account = binance_connector(exchange, account_key + "-other")
    assert len(other_account.fetch_open_orders("SOL/USDT")) == 2


def test_a_short_retry_after_makes_other_workers_wait_then_proceed(binance, exchange, account_key):
    exchange.route("GET", "/api/v3/openOrders", Reply(BINANCE_1003, status=429, headers={"Retry-After": "1"}))
    with pytest.raises(RateLimited):
        binance.fetch_open_orders("SOL/USDT")
    blocked_at = time.monotonic()

    exchange.route("GET", "/api/v3/openOrders", Reply(recorded("binance_open_orders.json")))
    orders = binance_connector(exchange, account_key).fetch_open_orders("SOL/USDT")

    assert len(orders) == 2
    assert time.monotonic() - blocked_at >= 0.9  # it sat out the exchange's Retry-After first


def test_retry_after_lost_answer_finds_the_order_instead_of_sending_it_again(binance, exchange):
    """The first placement reached Binance but the answer was -1007; the retry must not double it."""
    exchange.route("POST", "/api/v3/order", Reply(BINANCE_1007, status=503))
    with pytest.raises(OrderStatusUnknown):
        binance.place_order(**SOL_LEG)
    exchange.route("GET", "/api/v3/order", Reply(recorded("binance_order_query.json")))

    order = binance.place_order(**SOL_LEG, is_retry=True)

    assert len(exchange.sent("POST", "/api/v3/order")) == 1
    assert exchange.sent("GET", "/api/v3/order")[0].params["origClientOrderId"] == "dce-1-2-0"
    assert order.id == "8112476221" and order.client_order_id == "dce-1-2-0" and order.status == "open"


def test_retry_sends_the_order_when_binance_never_got_it(binance, exchange):
    exchange.route("GET", "/api/v3/order", Reply(BINANCE_2013, status=400))
    exchange.route("POST", "/api/v3/order", echo_binance_order("binance_order_new_full.json"))

    order = binance.place_order(**SOL_LEG, is_retry=True)

    assert len(exchange.sent("GET", "/api/v3/order")) == 1
    assert len(exchange.sent("POST", "/api/v3/order")) == 1
    assert order.client_order_id == "dce-1-2-0"


def test_binance_spot_endpoint_mappings_are_normalised(binance):
    """On real spot URLs ccxt files -1007 under BadResponse and -2011 under OperationRejected."""

    def translated(error, *, creating_order):
        return translate(
            error, exchange_id="binance", client=binance.client, budget=binance.budget, creating_order=creating_order
        )

    unknown = translated(ccxt.BadResponse("binance " + json.dumps(BINANCE_1007)), creating_order=True)
    gone = translated(
        ccxt.OperationRejected('binance {"code":-2011,"msg":"Unknown order sent."}'), creating_order=False
    )

    assert isinstance(unknown, OrderStatusUnknown) and unknown.exchange_message == BINANCE_1007["msg"]
    assert isinstance(gone, OrderNotFound) and gone.exchange_message == "Unknown order sent."


# --- Bybit -----------------------------------------------------------------------------------


def test_bybit_spot_and_perpetual_markets(bybit):
    markets = bybit.load_markets()

    spot = markets["BTC/USDT"]
    assert (spot.tick_size, spot.step_size, spot.min_qty, spot.min_notional, spot.type) == (
        Decimal("0.01"),
        Decimal("0.000001"),
        Decimal("0.000048"),
        Decimal("1"),
        "spot",
    )
    perpetual = markets["BTC/USDT:USDT"]
    assert (perpetual.tick_size, perpetual.step_size, perpetual.min_qty, perpetual.min_notional, perpetual.type) == (
        Decimal("0.1"),
        Decimal("0.001"),
        Decimal("0.001"),
        Decimal("5"),
        "swap",
    )
    assert (spot.settle, spot.linear, spot.inverse) == ("", None, False)
    assert bybit.resolve_symbol("BTCUSDT") == "BTC/USDT"
    assert bybit.resolve_symbol("ETH/USDT") == "ETH/USDT"
    # The perpetual is listed, but this account trades spot: a .P chart never trades spot (its sell would
    # sell the trader's coins, not open a short), so the trader is told to send it to a swap account.
    with pytest.raises(BadSymbol, match=r"perpetual \(\.P\) ticker and this bybit account trades spot.*swap account"):
        bybit.resolve_symbol("BYBIT:BTCUSDT.P")


def test_a_bybit_swap_account_resolves_tickers_to_the_linear_perpetual_only(bybit, exchange, account_key):
    swap = bybit_connector(exchange, account_key, market_type="swap")  # as connector_for_account builds it

    assert swap.resolve_symbol("BYBIT:BTCUSDT.P") == "BTC/USDT:USDT"
    assert swap.resolve_symbol("BTCUSDT") == "BTC/USDT:USDT"
    markets = swap.load_markets()
    assert set(markets) == {"BTC/USDT:USDT", "LTC/USDT:USDT"}  # linear perpetuals only: no spot market
    perpetual = markets["BTC/USDT:USDT"]
    assert (perpetual.settle, perpetual.linear, perpetual.inverse) == ("USDT", True, False)
    with pytest.raises(BadSymbol, match="Unknown market 'ETHUSDT' on bybit"):
        swap.resolve_symbol("ETHUSDT")  # listed on spot only: never traded there from a swap account
    with pytest.raises(BadSymbol, match="bybit has no market ETH/USDT"):
        swap.market("ETH/USDT")
    # What reached Bybit: the linear instruments only (trading, then pre-launch), never the spot list.
    listed = [r.params for r in exchange.requests if r.path == "/v5/market/instruments-info"]
    assert [(p["category"], p.get("status")) for p in listed] == [("linear", None), ("linear", "PreLaunch")]


def test_an_inverse_ccxt_market_is_known_inverse():
    raw = {
        "symbol": "BTC/USD:BTC",
        "id": "BTCUSD",
        "base": "BTC",
        "quote": "USD",
        "settle": "BTC",
        "type": "swap",
        "contract": True,
        "linear": False,
        "inverse": True,
        "precision": {"price": 0.5, "amount": 1},
        "limits": {},
    }
    market, has_precision = market_from_ccxt(raw, ccxt.TICK_SIZE)
    assert has_precision and (market.settle, market.linear, market.inverse) == ("BTC", False, True)


def test_bybit_limit_order_carries_order_link_id(bybit, exchange):
    exchange.route("POST", "/v5/order/create", Reply(recorded("bybit_order_create.json")))

    order = bybit.create_order(
        symbol="BTC/USDT",
        side="buy",
        type="limit",
        amount=Decimal("0.0123456"),
        price=Decimal("64000.50"),
        client_order_id="dce-7-1-0",
    )

    [sent] = exchange.sent("POST", "/v5/order/create")
    assert sent.params["orderLinkId"] == "dce-7-1-0"
    assert sent.params["category"] == "spot" and sent.params["symbol"] == "BTCUSDT"
    assert (sent.params["side"], sent.params["orderType"]) == ("Buy", "Limit")
    assert sent.params["qty"] == "0.012345" and sent.params["price"] == "64000.5"
    # Bybit answers with ids only: the rest is what we sent, and the order is open.
    assert order.id == "1739222451251987456" and order.client_order_id == "dce-7-1-0"
    assert order.status == "open" and order.amount == Decimal("0.012345") and order.price == Decimal("64000.5")


def test_bybit_market_buy_is_sized_in_base_currency(bybit, exchange):
    exchange.route("POST", "/v5/order/create", Reply(recorded("bybit_order_create.json")))

    bybit.create_order(
        symbol="BTC/USDT",
        side="buy",
        type="market",
        amount=Decimal("0.01"),
        price=Decimal("64000"),
        client_order_id="dce-7-1-0",
    )

    [sent] = exchange.sent("POST", "/v5/order/create")
    assert sent.params["marketUnit"] == "baseCoin" and sent.params["qty"] == "0.01"


def test_bybit_lookup_by_order_link_id_finds_an_open_order(bybit, exchange):
    exchange.route("GET", "/v5/order/realtime", Reply(recorded("bybit_order_realtime.json")))

    order = bybit.fetch_order(symbol="BTC/USDT", client_order_id="dce-7-1-0")

    [sent] = exchange.sent("GET", "/v5/order/realtime")
    assert sent.params["orderLinkId"] == "dce-7-1-0"
    assert order.status == "open" and order.filled == Decimal("0.002345") and order.amount == Decimal("0.012345")
    assert order.average == Decimal("64000.5")
    assert order.fee == Decimal("0.000002345") and order.fee_currency == "BTC"


def test_bybit_lookup_falls_back_to_order_history(bybit, exchange):
    exchange.route("GET", "/v5/order/realtime", bybit_empty_list())

    def history(request: Request) -> Reply:
        body = recorded("bybit_order_history.json")
        body["result"]["list"] = [
            o for o in body["result"]["list"] if o["orderLinkId"] == request.params["orderLinkId"]
        ]
        return Reply(body)

    exchange.route("GET", "/v5/order/history", history)

    order = bybit.fetch_order(symbol="BTC/USDT", client_order_id="dce-7-0-0")

    assert order.status == "closed" and order.filled == Decimal("0.01") and order.average == Decimal("64999.8")


def test_bybit_unknown_order_is_order_not_found(bybit, exchange):
    exchange.route("GET", "/v5/order/realtime", bybit_empty_list())
    exchange.route("GET", "/v5/order/history", bybit_empty_list())

    with pytest.raises(OrderNotFound):
        bybit.fetch_order(symbol="BTC/USDT", client_order_id="dce-7-9-9")


def test_bybit_closed_orders_include_cancelled_ones(bybit, exchange):
    exchange.route("GET", "/v5/order/history", Reply(recorded("bybit_order_history.json")))

    closed = bybit.fetch_closed_orders("BTC/USDT")

    assert [(o.client_order_id, o.status) for o in closed] == [("dce-7-0-0", "closed"), ("dce-7-0-1", "canceled")]


def test_bybit_tickers_take_one_request(bybit, exchange):
    exchange.route("GET", "/v5/market/tickers", Reply(recorded("bybit_tickers_spot.json")))

    result = bybit.tickers(["BTC/USDT", "ETH/USDT"])

    assert len(exchange.sent("GET", "/v5/market/tickers")) == 1
    assert result["BTC/USDT"].last == Decimal("64000.15") and result["ETH/USDT"].bid == Decimal("3500.01")


def test_bybit_insufficient_balance(bybit, exchange):
    exchange.route(
        "POST",
        "/v5/order/create",
        Reply(
            {
                "retCode": 170131,
                "retMsg": "Insufficient balance.",
                "result": {},
                "retExtInfo": {},
                "time": 1718000100456,
            }
        ),
    )

    with pytest.raises(InsufficientFunds) as raised:
        bybit.create_order(
            symbol="BTC/USDT",
            side="buy",
            type="limit",
            amount=Decimal("1"),
            price=Decimal("64000"),
            client_order_id="dce-7-1-0",
        )
    assert raised.value.exchange_message == "Insufficient balance."


# --- Precision modes -------------------------------------------------------------------------


class decimalsx(ccxt.Exchange):  # noqa: N801 - ccxt names exchange classes by their id
    """A minimal ccxt exchange that counts precision in decimal places (as Kraken's API does)."""

    def describe(self):
        return self.deep_extend(
            super().describe(),
            {
                "id": "decimalsx",
                "name": "Decimal places test exchange",
                "rateLimit": 10,
                "precisionMode": ccxt.DECIMAL_PLACES,
                "urls": {"api": {"public": "http://127.0.0.1:9/v1"}},  # replaced through ccxt_options
                "has": {"fetchMarkets": True},
            },
        )

    def fetch_markets(self, params=None):
        response = self.request("pairs", "public", "GET", params or {})
        return [
            self.safe_market_structure(
                {
                    "id": pair["id"],
                    "symbol": f"{pair['base']}/{pair['quote']}",
                    "base": pair["base"],
                    "quote": pair["quote"],
                    "baseId": pair["base"],
                    "quoteId": pair["quote"],
                    "type": "spot",
                    "spot": True,
                    "active": True,
                    "precision": {"price": pair["pair_decimals"], "amount": pair["lot_decimals"]},
                    "limits": {
                        "amount": {"min": self.safe_number(pair, "ordermin")},
                        "cost": {"min": self.safe_number(pair, "costmin")},
                    },
                    "info": pair,
                }
            )
            for pair in response["pairs"]
        ]

    def sign(self, path, api="public", method="GET", params=None, headers=None, body=None):
        return {"url": f"{self.urls['api'][api]}/{path}", "method": method, "body": body, "headers": headers}


class sigdigitsx(decimalsx):  # noqa: N801
    def describe(self):
        return self.deep_extend(super().describe(), {"id": "sigdigitsx", "precisionMode": ccxt.SIGNIFICANT_DIGITS})


DECIMAL_PAIRS = {
    "pairs": [
        {
            "id": "XBTEUR",
            "base": "BTC",
            "quote": "EUR",
            "pair_decimals": 1,
            "lot_decimals": 8,
            "ordermin": "0.0001",
            "costmin": "0.5",
        },
        {"id": "SHIBEUR", "base": "SHIB", "quote": "EUR", "pair_decimals": 8, "lot_decimals": 0, "ordermin": "50000"},
        {"id": "BIGEUR", "base": "BIG", "quote": "EUR", "pair_decimals": -1, "lot_decimals": 2, "ordermin": "1"},
    ]
}


@pytest.mark.parametrize("exchange_class", [decimalsx, sigdigitsx])
def test_decimal_places_become_ticks_and_significant_digits_are_refused(
    exchange, account_key, monkeypatch, exchange_class
):
    monkeypatch.setattr(ccxt, exchange_class.__name__, exchange_class, raising=False)
    exchange.route("GET", "/v1/pairs", Reply(DECIMAL_PAIRS))
    connector = CcxtConnector(
        exchange_class.__name__,
        account_key=account_key,
        ccxt_options={"urls": {"api": {"public": f"{exchange.url}/v1"}}},
    )

    if exchange_class is sigdigitsx:
        with pytest.raises(PermanentError, match="significant digits"):
            connector.load_markets()
        assert exchange.requests == []
        return
    markets = connector.load_markets()
    assert (markets["BTC/EUR"].tick_size, markets["BTC/EUR"].step_size) == (Decimal("0.1"), Decimal("0.00000001"))
    assert markets["BTC/EUR"].min_qty == Decimal("0.0001") and markets["BTC/EUR"].min_notional == Decimal("0.5")
    assert (markets["SHIB/EUR"].tick_size, markets["SHIB/EUR"].step_size) == (Decimal("0.00000001"), Decimal("1"))
    assert markets["SHIB/EUR"].min_notional == Decimal("0")  # the exchange gives none
    assert markets["BIG/EUR"].tick_size == Decimal("10")


def test_tick_size_and_decimal_places_mean_the_same_increment():
    assert increment_from_precision(0.01, ccxt.TICK_SIZE) == Decimal("0.01")
    assert increment_from_precision(1e-08, ccxt.TICK_SIZE) == Decimal("0.00000001")
    assert increment_from_precision(2, ccxt.DECIMAL_PLACES) == Decimal("0.01")
    assert increment_from_precision(0, ccxt.DECIMAL_PLACES) == Decimal("1")
    assert increment_from_precision(None, ccxt.TICK_SIZE) is None
    assert increment_from_precision(0, ccxt.TICK_SIZE) is None
