"""A market quoted in something else than a USD stablecoin (ETH/BTC): the USD capital is converted into
the quote before the grid is planned, the position's figures are in BTC and said so, and USD totals
convert them at the stored rate."""

from decimal import Decimal

import pytest
from django.core.management import call_command

from exchanges.models import ExchangeAccount, PaperBalance, PaperOrder, PaperPrice
from exchanges.paper.services import paper_price_set
from notifications.formatting import format_pnl
from tests.factories import DCAConfigurationFactory
from tests.trading.test_lifecycle import THREE_LEGS, cycle
from trading.models import PositionGroup, Signal
from trading.selectors import realized_pnl_today_usd

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def eth_btc(trader):
    call_command(
        "paper", "market", "binance", "ETH/BTC", "--tick", "0.00001", "--step", "0.001", "--min-notional", "0.0001"
    )
    paper_price_set(exchange_id="binance", symbol="ETH/BTC", price=D("0.05010"))
    PaperBalance.objects.create(account=ExchangeAccount.objects.get(user=trader), asset="BTC", free=D("1"))
    DCAConfigurationFactory(user=trader, pair="ETH/BTC", levels=THREE_LEGS, capital_usd=D("300"), tp_mode="per_leg")
    return trader


def test_the_usd_capital_is_converted_into_the_quote_before_the_grid_is_planned(eth_btc, route):
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("60000"))

    signal = route(symbol="ETHBTC", entry_price="0.05")

    assert signal.status == "opened", signal.reason
    group = PositionGroup.objects.get(symbol="ETH/BTC")
    spent = sum(o.amount * o.price for o in PaperOrder.objects.filter(symbol="ETH/BTC"))
    # 300 USD at 60,000 USD per BTC is 0.005 BTC (lots round down); once 300 BTC were ordered.
    assert D("0.0049") < spent <= D("0.005")
    assert group.quote_usd_rate == D("60000") and group.pyramids.get().capital_usd == D("300")

    group = cycle("0.04790", symbol="ETH/BTC")  # every leg (0.05, 0.049, 0.048) fills
    group = cycle("0.05200", symbol="ETH/BTC")  # every take-profit fills
    assert group.status == "closed" and group.quote_currency == "BTC"
    assert D("0") < group.realized_pnl_usd < D("0.001")  # in BTC
    assert realized_pnl_today_usd(eth_btc) == group.realized_pnl_usd * D("60000")
    assert format_pnl(D("1.5"), group.realized_pnl_usd, group.quote_currency).endswith(" BTC)")


def test_an_entry_without_a_usd_price_for_its_quote_is_refused_and_leaves_nothing(eth_btc, route):
    PaperPrice.objects.filter(symbol="BTC/USDT").delete()  # no USD price for BTC on this exchange

    signal = route(symbol="ETHBTC", entry_price="0.05")

    assert signal.status == Signal.Status.REJECTED
    assert "BTC/USDT" in signal.reason and "Nothing was placed" in signal.reason
    assert not PositionGroup.objects.exists() and not PaperOrder.objects.exists()
