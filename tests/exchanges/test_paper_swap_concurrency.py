"""Paper perpetuals under concurrent callers: funding settled by several processes at once is charged once
per instant, a liquidation triggered by several price updates at once happens once, and orders placed at
once never take a position past its tier's maximum leverage."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection

from exchanges.connector import InvalidOrder
from exchanges.models import ExchangeAccount, PaperBalance, PaperFill, PaperFunding, PaperOrder, PaperPosition
from exchanges.paper import funding
from exchanges.paper.connector import PaperConnector
from exchanges.paper.services import paper_price_set
from tests.factories import ExchangeAccountFactory

pytestmark = pytest.mark.django_db(transaction=True)
D = Decimal
BTC = "BTC/USDT:USDT"
START = D("10000")


@pytest.fixture
def long_position():
    account = ExchangeAccountFactory(
        market_type="swap",
        starting_balance=START,
        maker_fee_percent=D("0"),
        taker_fee_percent=D("0"),
        market_slippage_percent=D("0"),
    )
    swap = PaperConnector(account)
    swap.load_markets()
    paper_price_set(exchange_id="binance", symbol=BTC, price=D("60000"))
    swap.set_leverage(BTC, 10)
    swap.create_order(symbol=BTC, side="buy", type="market", amount=D("0.010"), price=None, client_order_id="l1")
    return account


def at_once(count, work):
    def run(_):
        try:
            return work()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def test_funding_settled_by_four_callers_at_once_is_charged_once_per_instant(long_position):
    PaperPosition.objects.filter(account=long_position).update(
        funding_settled_at=datetime(2026, 3, 1, 7, 0, tzinfo=UTC)
    )
    now = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 08:00, 16:00 and 00:00 due

    made = at_once(4, lambda: funding.funding_settle(long_position, now=now))

    assert sum(made) == 3
    assert list(PaperFunding.objects.order_by("funding_time").values_list("amount", flat=True)) == [D("-0.06")] * 3
    balance = PaperBalance.objects.get(account=long_position, asset="USDT")
    assert (balance.free, balance.used) == (START - 60 - D("0.18"), D("60"))


def test_a_liquidation_triggered_by_three_price_updates_at_once_happens_once(long_position):
    results = at_once(3, lambda: paper_price_set(exchange_id="binance", symbol=BTC, price=D("50000")))

    assert sum(result.liquidated for result in results) == 1
    assert PaperOrder.objects.filter(account=long_position, client_order_id__startswith="autoclose-").count() == 1
    assert not PaperPosition.objects.filter(account=long_position).exists()
    fills = PaperFill.objects.filter(order__account=long_position)
    balance = PaperBalance.objects.get(account=long_position, asset="USDT")
    assert (balance.free, balance.used) == (START - 60, D("0"))
    assert balance.free == START + sum(f.realized_pnl - f.fee for f in fills)


def test_orders_placed_at_once_never_take_the_position_past_its_tiers_maximum_leverage(long_position):
    # At 125x the first tier holds notionals below 50,000. With no position (the one the long held is closed,
    # so nothing else serialises the placements), four orders of 0.22 BTC at 59,000 (12,980 each) race:
    # three fit (38,940), the fourth would reach 51,920.
    swap = PaperConnector(long_position)
    swap.create_order(symbol=BTC, side="sell", type="market", amount=D("0.010"), price=None, client_order_id="c1")
    swap.set_leverage(BTC, 125)

    def place(name):
        try:
            PaperConnector(ExchangeAccount.objects.get(pk=long_position.pk)).create_order(
                symbol=BTC, side="buy", type="limit", amount=D("0.22"), price=D("59000"), client_order_id=name
            )
            return "placed"
        except InvalidOrder as error:
            return str(error)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(place, ["r1", "r2", "r3", "r4"]))

    assert sorted(results) == ["Exceeded the maximum allowable position at current leverage."] + ["placed"] * 3
    assert PaperOrder.objects.filter(account=long_position, status="open").count() == 3
