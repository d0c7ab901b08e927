"""Fill sync asks the exchange once per (account, symbol) per cycle, not once per order."""

from collections import Counter
from decimal import Decimal

import pytest

from exchanges.models import ExchangeAccount
from exchanges.paper.connector import PaperConnector
from exchanges.paper.services import paper_price_set
from trading.models import Order
from trading.services.sync import prices_sync, symbol_sync

pytestmark = pytest.mark.django_db
D = Decimal


class CountingPaper(PaperConnector):
    def __init__(self, account):
        super().__init__(account)
        self.calls = Counter()

    def __getattribute__(self, name):
        if name in (
            "fetch_open_orders",
            "fetch_closed_orders",
            "fetch_order",
            "ticker",
            "tickers",
            "create_order",
            "cancel_order",
        ):
            object.__getattribute__(self, "calls")[name] += 1
        return object.__getattribute__(self, name)


def test_one_cycle_costs_two_order_calls_per_symbol_and_one_ticker_call_per_account(route, trader):
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("101"))
    for price in ("100", "99", "98", "97"):
        route(entry_price=price)  # four pyramids: 20 resting legs on one symbol
    assert Order.objects.filter(status="open").count() == 20
    connector = CountingPaper(ExchangeAccount.objects.get(user=trader))
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("99.2"))  # a few legs fill

    symbol_sync(account_id=connector.account.pk, symbol="BTC/USDT", connector=connector)
    prices_sync(account_id=connector.account.pk, connector=connector)

    assert connector.calls["fetch_open_orders"] == 1
    assert connector.calls["fetch_closed_orders"] == 1
    assert connector.calls["fetch_order"] == 0  # every order was in one of the two answers
    assert connector.calls["tickers"] == 1
    assert Order.objects.filter(role="entry", status="filled").count() == 2  # the legs at 100.00 and 99.50


def test_beat_dispatches_one_sync_task_per_account_and_symbol(route, trader, settings):
    import redis

    from trading.tasks import sync_fills_task

    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("101"))
    route(entry_price="100")
    route(symbol="ETHUSDT", entry_price="99")
    queue = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    queue.delete("celery")
    from config.celery import app

    app.conf.task_always_eager = False  # publish to Redis, where the worker would read them
    try:
        sync_fills_task()
    finally:
        app.conf.task_always_eager = True

    tasks = [__import__("json").loads(message)["headers"]["task"] for message in queue.lrange("celery", 0, -1)]
    queue.delete("celery")
    assert sorted(tasks) == [
        "trading.tasks.sync_prices_task",
        "trading.tasks.sync_symbol_task",
        "trading.tasks.sync_symbol_task",
    ]  # 10 open legs on 2 symbols: 2 sync tasks, not 10
