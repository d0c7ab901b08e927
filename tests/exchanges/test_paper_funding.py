"""Paper perpetuals' funding every 8 h (00:00, 08:00, 16:00 UTC), settled lazily (exchanges.paper.funding).

Time is frozen by hand (django.utils.timezone.now patched), so every instant is known.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO
from unittest import mock

import pytest
from django.core.management import call_command
from django.test import override_settings

from exchanges.models import PaperBalance, PaperFill, PaperFunding, PaperMarket
from exchanges.paper import funding
from exchanges.paper.connector import PaperConnector
from exchanges.paper.services import paper_price_set
from tests.factories import ExchangeAccountFactory

pytestmark = pytest.mark.django_db
D = Decimal
BTC = "BTC/USDT:USDT"  # contracts of 0.001 BTC
ETH = "ETH/USDT:USDT"  # contracts of 0.01 ETH
START = D("10000")


class Clock:
    def __init__(self, at: datetime):
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def set(self, *args) -> None:
        self.at = datetime(*args, tzinfo=UTC)


@pytest.fixture
def clock():
    frozen = Clock(datetime(2026, 3, 1, 7, 0, tzinfo=UTC))
    with mock.patch("django.utils.timezone.now", frozen):
        yield frozen


@pytest.fixture
def account():
    return ExchangeAccountFactory(
        market_type="swap",
        starting_balance=START,
        maker_fee_percent=D("0"),
        taker_fee_percent=D("0"),
        market_slippage_percent=D("0"),
    )


@pytest.fixture
def swap(account, clock):
    connector = PaperConnector(account)
    connector.load_markets()
    paper_price_set(exchange_id="binance", symbol=BTC, price=D("60000"))
    paper_price_set(exchange_id="binance", symbol=ETH, price=D("3000"))
    return connector


def market(connector, symbol, side, amount, cid):
    return connector.create_order(
        symbol=symbol, side=side, type="market", amount=D(amount), price=None, client_order_id=cid
    )


def amounts(connector, symbol):
    return [(p.timestamp.hour, p.amount) for p in connector.fetch_funding_history(symbol)]


def test_instants_are_00_08_16_utc_strictly_after_and_up_to():
    at = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    assert funding.funding_instants(at, at + timedelta(hours=16)) == [at + timedelta(hours=8), at + timedelta(hours=16)]
    assert funding.funding_instants(at - timedelta(seconds=1), at) == [at]
    assert funding.funding_instants(at, at + timedelta(hours=7, minutes=59)) == []


def test_longs_pay_shorts_once_per_instant_however_often_it_is_settled(swap, account, clock):
    market(swap, BTC, "buy", "0.010", "l1")  # notional 600 at 60000
    market(swap, ETH, "sell", "0.10", "s1")  # notional 300 at 3000
    clock.set(2026, 3, 1, 7, 59)
    assert amounts(swap, BTC) == []  # no instant yet

    clock.set(2026, 3, 1, 9, 0)
    assert amounts(swap, BTC) == [(8, D("-0.06"))]  # 600 × 0.0001, paid by the long
    swap.balance()
    swap.fetch_positions()
    assert amounts(swap, BTC) == [(8, D("-0.06"))]  # settled twice: charged once
    assert amounts(swap, ETH) == [(8, D("0.03"))]  # the short receives

    clock.set(2026, 3, 1, 10, 0)
    paper_price_set(exchange_id="binance", symbol=BTC, price=D("61000"))
    clock.set(2026, 3, 2, 1, 0)  # 16:00 and 00:00 missed: both settled at the paper price now
    assert amounts(swap, BTC) == [(8, D("-0.06")), (16, D("-0.061")), (0, D("-0.061"))]
    assert amounts(swap, ETH) == [(8, D("0.03")), (16, D("0.03")), (0, D("0.03"))]
    assert PaperFunding.objects.filter(account=account).count() == 6

    balance = PaperBalance.objects.get(account=account, asset="USDT")
    fills = PaperFill.objects.filter(order__account=account)
    paid = sum(row.amount for row in PaperFunding.objects.filter(account=account))
    assert paid == D("-0.182") + D("0.09")
    assert balance.free + balance.used == START + sum(f.realized_pnl - f.fee for f in fills) + paid
    assert balance.free == START - 600 - 300 + paid  # leverage 1: the margins are the notionals


def test_a_price_move_settles_the_positions_on_its_symbol(swap, account, clock):
    market(swap, BTC, "buy", "0.010", "l1")
    clock.set(2026, 3, 1, 16, 30)
    paper_price_set(exchange_id="binance", symbol=BTC, price=D("60000"))
    assert list(PaperFunding.objects.order_by("funding_time").values_list("funding_time__hour", "amount")) == [
        (8, D("-0.06")),
        (16, D("-0.06")),
    ]


def test_a_position_pays_only_the_instants_it_was_open_at(swap, account, clock):
    market(swap, BTC, "buy", "0.010", "l1")
    clock.set(2026, 3, 1, 9, 0)
    market(swap, BTC, "sell", "0.010", "c1")  # closed at 09:00: the 08:00 instant was settled first
    clock.set(2026, 3, 1, 17, 0)
    market(swap, BTC, "sell", "0.010", "s1")  # a short opened after 16:00
    clock.set(2026, 3, 1, 23, 0)
    assert amounts(swap, BTC) == [(8, D("-0.06"))]


def test_a_market_rate_overrides_the_setting_and_a_negative_rate_makes_shorts_pay(swap, account, clock):
    out = StringIO()
    call_command(
        "paper", "market", "binance", ETH, "--tick", "0.01", "--step", "1", "--funding-rate=-0.0005", stdout=out
    )
    assert "funding rate -0.0005 per 8 h" in out.getvalue()
    assert PaperMarket.objects.get(exchange_id="binance", symbol=ETH).contract_size == D("0.01")  # kept
    market(swap, ETH, "sell", "0.10", "s1")
    market(swap, BTC, "sell", "0.010", "s2")
    clock.set(2026, 3, 1, 8, 0)
    with override_settings(PAPER_FUNDING_RATE="0.001"):
        assert amounts(swap, ETH) == [(8, D("-0.15"))]  # 300 × −0.0005: the short pays
        assert amounts(swap, BTC) == [(8, D("0.6"))]  # 600 × 0.001: the short receives


def test_funding_a_position_cannot_pay_from_free_comes_from_its_margin(clock):
    account = ExchangeAccountFactory(
        market_type="swap",
        starting_balance=D("600"),
        maker_fee_percent=D("0"),
        taker_fee_percent=D("0"),
        market_slippage_percent=D("0"),
    )
    swap = PaperConnector(account)
    paper_price_set(exchange_id="binance", symbol=BTC, price=D("60000"))
    market(swap, BTC, "buy", "0.010", "l1")  # all 600 in margin, nothing free
    clock.set(2026, 3, 1, 8, 0)
    assert amounts(swap, BTC) == [(8, D("-0.06"))]
    balance = PaperBalance.objects.get(account=account, asset="USDT")
    assert (balance.free, balance.used) == (D("0"), D("599.94"))
