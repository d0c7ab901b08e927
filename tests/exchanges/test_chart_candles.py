"""Candles for a position's chart: the paper feed records its prices as candles; a real exchange's candles
are fetched by a worker into the cache, never by the web request that shows them."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache

from exchanges import dispatch
from exchanges.candles import Candle
from exchanges.models import ExchangeAccount, PaperPrice
from exchanges.paper.candles import paper_candles, paper_prices_record
from exchanges.paper.connector import PaperConnector
from exchanges.paper.services import paper_account_price_set, paper_feed_tick, paper_price_set
from exchanges.services import candles as candle_service
from exchanges.services.candles import chart_candles
from tests.exchanges.test_ccxt_connector import FakeExchange, Reply, binance_connector, binance_klines, recorded
from tests.factories import ExchangeAccountFactory

D = Decimal
pytestmark = pytest.mark.django_db
SYMBOLS = ("BTC/USDT", "ETH/USDT")


@pytest.fixture(autouse=True)
def empty_record():
    """No recorded prices or fetched candles from another test (the cache outlives a test)."""
    keys = [f"{kind}:binance:{symbol}" for kind in ("paper-candles", "paper-candle-forming") for symbol in SYMBOLS]
    keys += [
        key.replace("binance:", f"binance:account-{pk}:")
        for key in keys
        for pk in ExchangeAccount.objects.values_list("pk", flat=True)
    ]
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


@pytest.fixture
def enqueued(monkeypatch) -> list[tuple]:
    """What was handed to the broker for a worker (the candle refreshes), in order."""
    sent = []
    monkeypatch.setattr(dispatch, "refresh_candles", lambda *args: sent.append(args) or True)
    return sent


def at(minute: int, second: int = 0) -> datetime:
    return datetime(2030, 3, 2, 10, minute, second, tzinfo=UTC)  # after any price the fixtures record now


# --- The paper feed's record ---------------------------------------------------------------------


def test_each_price_the_paper_feed_moves_to_is_folded_into_one_minute_candles():
    for when, price in [
        (at(0, 5), "100"),
        (at(0, 30), "101"),
        (at(0, 55), "99.5"),
        (at(1, 10), "100.25"),
        (at(3, 0), "102"),
    ]:
        paper_prices_record("binance", {"BTC/USDT": D(price)}, at=when)

    candles = paper_candles("binance", "BTC/USDT")

    start = int(at(0).timestamp())
    assert candles == [
        Candle(start, D("100"), D("101"), D("99.5"), D("99.5")),
        Candle(start + 60, D("100.25"), D("100.25"), D("100.25"), D("100.25")),
        Candle(start + 180, D("102"), D("102"), D("102"), D("102")),  # the forming one; minute 2 had no price
    ]
    assert paper_candles("binance", "ETH/USDT") == []


def test_the_record_keeps_the_last_candles_only(monkeypatch):
    from exchanges.paper import candles as record

    monkeypatch.setattr(record, "PAPER_CANDLES_KEPT", 5)
    for minute in range(12):
        paper_prices_record("binance", {"BTC/USDT": D(100 + minute)}, at=at(minute))

    kept = paper_candles("binance", "BTC/USDT")

    # the 5 newest finished minutes (6 … 10) and the forming one (11)
    assert [candle.close for candle in kept] == [D(106), D(107), D(108), D(109), D(110), D(111)]


def test_a_price_set_by_hand_and_the_synthetic_walk_are_both_recorded(trader):
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("100"))
    assert paper_candles("binance", "BTC/USDT")[-1].close == D("100")

    account = trader.exchange_accounts.get()
    account.price_feed = "synthetic"
    account.save()
    paper_feed_tick()

    walked = PaperPrice.objects.get(exchange_id="binance", symbol="BTC/USDT").price
    assert walked != D("100") and paper_candles("binance", "BTC/USDT")[-1].close == walked


def test_an_account_with_a_price_of_its_own_sees_the_record_of_its_own_prices(trader):
    # Given another trader's account on the same paper exchange, following the shared price
    other = ExchangeAccountFactory(exchange_id="binance")
    account = trader.exchange_accounts.get()
    for key in ("paper-candles", "paper-candle-forming"):
        cache.delete_many([f"{key}:binance:account-{account.pk}:BTC/USDT"])

    # When this trader sets a price of their own, and the shared price moves elsewhere
    paper_account_price_set(account=account, symbol="BTC/USDT", price=D("77.5"))
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("120"))

    # Then their chart shows their price, the other's the shared one
    now = datetime.now(UTC)
    own = chart_candles(account=account, symbol="BTC/USDT", timeframe_minutes=15, opened_at=now, closed_at=None)
    shared = chart_candles(account=other, symbol="BTC/USDT", timeframe_minutes=15, opened_at=now, closed_at=None)
    assert own.candles[-1].close == D("77.5") and "your own prices for this market" in own.message
    assert shared.candles[-1].close == D("120") and "the paper feed's recorded prices" in shared.message


def test_the_paper_connector_serves_its_record_as_longer_candles(trader):
    for minute in range(30):
        paper_prices_record("binance", {"BTC/USDT": D(100 + minute)}, at=at(minute, 1))

    candles = PaperConnector(trader.exchange_accounts.get()).fetch_candles(
        "BTC/USDT", interval_minutes=15, since=at(0), limit=10
    )

    assert [(c.opened_at, c.open, c.high, c.low, c.close) for c in candles] == [
        (int(at(0).timestamp()), D(100), D(114), D(100), D(114)),
        (int(at(15).timestamp()), D(115), D(129), D(115), D(129)),
    ]


# --- A real exchange: a worker fetches, the page reads the cache ---------------------------------------


@pytest.fixture
def live_account(db):
    return ExchangeAccountFactory(mode="live", api_key="key", api_secret="secret")


@pytest.fixture
def exchange():
    server = FakeExchange()
    server.route("GET", "/api/v3/exchangeInfo", Reply(recorded("binance_exchange_info.json")))
    yield server
    server.stop()


def opened_chart(account, now: datetime):
    return chart_candles(
        account=account,
        symbol="BTC/USDT",
        timeframe_minutes=15,
        opened_at=now - timedelta(hours=2),
        closed_at=None,
        now=now,
    )


def test_the_page_never_calls_the_exchange_and_asks_a_worker_once(live_account, enqueued, network_tap):
    now = datetime.now(UTC)
    cache.delete_many([f"{key}:refreshing" for key in _keys(live_account, now)])

    first, second = opened_chart(live_account, now), opened_chart(live_account, now + timedelta(seconds=5))

    # The chart says it is loading, nothing reached any exchange, and one refresh went to the broker
    assert (first.state, first.candles) == ("loading", [])
    assert first.message == "Fetching 15-minute candles from binance…"
    assert second.state == "loading"
    assert network_tap == []
    assert len(enqueued) == 1
    account_id, symbol, interval, start, end, closed = enqueued[0]
    assert (account_id, symbol, interval, closed) == (live_account.pk, "BTC/USDT", 15, False)
    assert (end - start) // 900 + 1 == 100 + 9  # 100 candles before the opening, 2 hours of life


def _keys(account, now):
    from exchanges.candles import chart_window

    window = chart_window(
        timeframe_minutes=15,
        opened_at=(now - timedelta(hours=2)).timestamp(),
        closed_at=None,
        now=now.timestamp(),
        supported=[15],
    )
    return [candle_service.candles_cache_key(account, "BTC/USDT", window)]


def _chart_after_the_workers_fetch(account, enqueued, exchange, monkeypatch, klines):
    """Open the chart (which queues one refresh), run that refresh against the fake exchange answering
    ``klines(end)`` to the candles request, and open the chart again: (that chart, the window's start, end)."""
    now = datetime.now(UTC)
    key = _keys(account, now)[0]
    cache.delete_many([key, f"{key}:refreshing"])
    opened_chart(account, now)
    account_id, symbol, interval, start, end, closed = enqueued[0]
    exchange.route("GET", "/api/v3/klines", klines(end))
    monkeypatch.setattr(candle_service, "connector_for_account", lambda account: binance_connector(exchange, "t"))

    candle_service.candles_refresh(
        account_id=account_id, symbol=symbol, interval_minutes=interval, start=start, end=end, closed=closed
    )
    chart = opened_chart(account, now + timedelta(seconds=3))
    cache.delete_many([key, f"{key}:refreshing"])
    return chart, start, end


def test_the_workers_fetch_is_what_the_page_then_draws(live_account, enqueued, exchange, monkeypatch):
    chart, start, end = _chart_after_the_workers_fetch(
        live_account, enqueued, exchange, monkeypatch, lambda end: binance_klines(1000, end * 1000)
    )

    assert chart.state == "ready" and chart.interval_minutes == 15
    assert len(chart.candles) == 109 and chart.candles[0].opened_at == start and chart.candles[-1].opened_at == end
    assert chart.candles[0].open == D("67000.10")
    assert chart.message.startswith("15-minute candles from binance, fetched ")
    assert len(enqueued) == 1  # fresh: no second refresh


def test_a_failed_fetch_is_said_on_the_chart(live_account, enqueued, exchange, monkeypatch):
    refused = Reply({"code": -1121, "msg": "Invalid symbol."}, status=400)
    chart, _, _ = _chart_after_the_workers_fetch(live_account, enqueued, exchange, monkeypatch, lambda end: refused)

    assert chart.state == "unavailable" and chart.candles == []
    assert "the last request failed" in chart.message and "Invalid symbol" in chart.message
