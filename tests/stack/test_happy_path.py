"""The Procfile's processes end to end, driven only through HTTP and management commands.

The demo trader's ladder (``manage.py demo``): five legs 0.5 % apart, 20 % of 1000 USD each, 2 %
take-profit per leg, on a hand-driven paper feed without fees.
"""

from decimal import Decimal

import pytest

from exchanges.models import PaperOrder
from tests.paper_markets import WALKTHROUGH_FILTERS
from tests.stack.invariants import books_straight
from tests.stack.stack import wait
from trading.models import Order, PositionGroup, QueuedSignal, Signal

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
D = Decimal


def test_webhook_grid_fills_take_profits_and_close_with_the_right_pnl(started):
    stack, trader = started
    health = stack.session.get(stack.url("/healthz"), timeout=10)
    assert health.status_code == 200 and health.json()["database"] == health.json()["broker"] == "ok"

    signal_id = trader.send(entry_price="100")  # price 101: no leg crosses on arrival
    wait(
        lambda: PaperOrder.objects.filter(status="open").count() == 5,
        timeout=90,
        what="the five-leg grid on the paper exchange",
        logs=stack.logs,
    )
    assert sorted(PaperOrder.objects.values_list("price", "amount")) == [
        (D("98.00"), D("2.040")),
        (D("98.50"), D("2.030")),
        (D("99.00"), D("2.020")),
        (D("99.50"), D("2.010")),
        (D("100.00"), D("2.000")),
    ]
    [position] = trader.api("get", "positions/").json()["results"]
    assert position["status"] == "live" and position["pyramid_count"] == 1

    stack.manage("paper", "price", "binance", "BTC/USDT", "97.9")  # every leg fills
    wait(
        lambda: Order.objects.filter(role="take_profit", status="open").count() == 5,
        timeout=90,
        what="beat's fill sync to place five take-profits",
        logs=stack.logs,
    )
    assert sorted(Order.objects.filter(role="take_profit").values_list("price", "quantity")) == [
        (D("99.96"), D("2.040")),
        (D("100.47"), D("2.030")),
        (D("100.98"), D("2.020")),
        (D("101.49"), D("2.010")),
        (D("102.00"), D("2.000")),
    ]

    stack.manage("paper", "price", "binance", "BTC/USDT", "102.5")  # every take-profit fills
    closed = wait(
        lambda: trader.api("get", f"positions/{position['id']}/").json()["status"] == "closed",
        timeout=90,
        what="the position to close on its take-profits",
        logs=stack.logs,
    )
    assert closed
    group = PositionGroup.objects.get()
    assert group.exit_reason == "take_profit"
    # Σ quantity × (take-profit − fill): 2×2 + 2.01×1.99 + 2.02×1.98 + 2.03×1.97 + 2.04×1.96
    assert group.realized_pnl_usd.quantize(D("0.0001")) == D("19.9970")
    detail = trader.api("get", f"positions/{group.pk}/").json()
    assert D(detail["realized_pnl_usd"]).quantize(D("0.0001")) == D("19.9970")
    assert Signal.objects.get(pk=signal_id).status == "opened"
    assert not PaperOrder.objects.filter(status="open").exists()
    books_straight()


def test_a_pyramid_joins_the_group_and_a_queued_entry_is_promoted_when_the_first_closes(started):
    stack, trader = started
    # A pool of one position, and a second pair for the entry that must wait.
    response = trader.api("get", "risk/config")
    config = {**response.json(), "max_open_positions_global": 1}
    assert trader.api("put", "risk/config", json=config).status_code == 200
    levels = [
        {"gap_percent": "0", "weight_percent": "50", "tp_percent": "2"},
        {"gap_percent": "-1", "weight_percent": "50", "tp_percent": "2"},
    ]
    response = trader.api(
        "post",
        "dca-configs/",
        json={
            "exchange": "binance",
            "pair": "ETH/USDT",
            "timeframe": 15,
            "levels": levels,
            "tp_mode": "per_leg",
            "max_pyramids": 2,
            "capital_usd": "200",
        },
    )
    assert response.status_code == 201, response.text
    stack.manage("paper", "market", "binance", "ETH/USDT", *WALKTHROUGH_FILTERS)
    stack.manage("paper", "price", "binance", "ETH/USDT", "51")

    trader.send(entry_price="100")
    wait(
        lambda: PaperOrder.objects.filter(status="open").count() == 5,
        timeout=90,
        what="the first grid",
        logs=stack.logs,
    )
    pyramid_signal = trader.send(entry_price="99", trade_id="pyramid")
    wait(
        lambda: PaperOrder.objects.filter(status="open").count() == 10,
        timeout=90,
        what="the pyramid's grid",
        logs=stack.logs,
    )
    assert Signal.objects.get(pk=pyramid_signal).status == "pyramided"
    [position] = trader.api("get", "positions/").json()["results"]
    assert position["pyramid_count"] == 2
    assert sorted(p["index"] for p in trader.api("get", f"positions/{position['id']}/").json()["pyramids"]) == [0, 1]
    # The pyramid's grid is laid from its own entry price: 99, 98.50, 98.01, 97.51, 97.02.
    assert min(PaperOrder.objects.values_list("price", flat=True)) == D("97.02")

    queued_signal = trader.send(entry_price="50", symbol="ETHUSDT")
    wait(
        lambda: Signal.objects.get(pk=queued_signal).status == "queued",
        timeout=60,
        what="the ETH entry to queue",
        logs=stack.logs,
    )
    [entry] = trader.api("get", "queue/").json()["results"]
    assert entry["status"] == "queued"
    assert not PaperOrder.objects.filter(symbol="ETH/USDT").exists()

    response = trader.api("post", f"positions/{position['id']}/close/")
    assert response.status_code == 202, response.text
    wait(
        lambda: Signal.objects.get(pk=queued_signal).status == "opened",
        timeout=90,
        what="the queued ETH entry to be promoted once the BTC position closed",
        logs=stack.logs,
    )
    wait(
        lambda: PaperOrder.objects.filter(symbol="ETH/USDT", status="open").count() == 2,
        timeout=90,
        what="the promoted ETH grid",
        logs=stack.logs,
    )
    assert PositionGroup.objects.get(symbol="BTC/USDT").status == "closed"
    assert PositionGroup.objects.get(symbol="BTC/USDT").exit_reason == "manual"
    assert QueuedSignal.objects.get().status == "promoted"
    assert not PaperOrder.objects.filter(symbol="BTC/USDT", status="open").exists()
    books_straight()
