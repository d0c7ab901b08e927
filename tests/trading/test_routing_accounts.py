"""Which exchange account a routed alert trades, with a spot and a swap account on one exchange."""

from decimal import Decimal

import pytest

from exchanges.models import ExchangeAccount, PaperBalance, PaperOrder
from tests.factories import ExchangeAccountFactory
from trading.models import PositionGroup

pytestmark = pytest.mark.django_db
D = Decimal
PERP = "BTC/USDT:USDT"


@pytest.fixture
def spot(trader):
    account = ExchangeAccount.objects.get(user=trader)
    account.label = "main"
    account.save(update_fields=["label"])
    return account


@pytest.fixture
def swap(trader, spot):
    """A paper swap account beside the spot one, trading the shipped perpetual BTC/USDT:USDT (contracts of
    0.001 BTC) at 100."""
    from exchanges.paper.connector import PaperConnector
    from exchanges.paper.services import paper_price_set

    account = ExchangeAccountFactory(
        user=trader,
        exchange_id="binance",
        market_type="swap",
        label="perp",
        starting_balance=D("100000"),
        maker_fee_percent=0,
        taker_fee_percent=0,
        market_slippage_percent=0,
    )
    PaperConnector(account).load_markets()
    paper_price_set(exchange_id="binance", symbol=PERP, price=D("100"))
    return account


def placed_on(account) -> list:
    return list(PaperOrder.objects.filter(account=account).values_list("side", "amount"))


def test_a_perpetual_alert_with_only_a_spot_account_is_rejected_naming_it(route, spot):
    signal = route(symbol="BTCUSDT.P", entry_price="100")

    assert signal.status == "rejected"
    assert "you have no swap account on binance (yours: “main” (binance spot))" in signal.reason
    assert "never trades spot" in signal.reason
    assert not PositionGroup.objects.exists() and placed_on(spot) == []


def test_a_plain_ticker_with_a_spot_and_a_swap_account_trades_spot(route, spot, swap):
    signal = route(symbol="BTCUSDT", entry_price="100")

    assert signal.status == "opened", signal.reason
    assert PositionGroup.objects.get().exchange_account == spot
    assert placed_on(spot) and placed_on(swap) == []


def test_a_perpetual_ticker_with_a_spot_and_a_swap_account_trades_the_swap(route, spot, swap):
    signal = route(symbol="BINANCE:BTCUSDT.P", entry_price="100")

    assert signal.status == "opened", signal.reason
    group = PositionGroup.objects.get()
    assert (group.exchange_account, group.symbol) == (swap, PERP)
    assert placed_on(swap) and placed_on(spot) == []


def test_the_alerts_account_label_overrides_the_tickers_choice(route, spot, swap):
    signal = route(symbol="BTCUSDT", entry_price="100", account="perp")

    assert signal.status == "opened", signal.reason
    group = PositionGroup.objects.get()
    assert (group.exchange_account, group.symbol) == (swap, PERP)  # BTCUSDT on a swap account: the perpetual
    assert placed_on(spot) == []


def test_a_label_naming_no_account_is_rejected_naming_the_accounts(route, spot, swap):
    signal = route(symbol="BTCUSDT", entry_price="100", account="perpetual")

    assert signal.status == "rejected"
    assert "'perpetual' names none of your binance accounts" in signal.reason
    assert "“main” (binance spot), “perp” (binance swap)" in signal.reason
    assert not PositionGroup.objects.exists() and not PaperOrder.objects.exists()


def test_a_short_on_the_spot_account_is_refused_naming_it(route, spot, swap):
    PaperBalance.objects.create(account=spot, asset="BTC", free=D("20"))

    signal = route(side="sell", market_position="short", symbol="BTCUSDT", entry_price="100")

    assert signal.status == "rejected"
    assert "shorting needs a swap account (perpetual futures); “main” (binance spot) trades spot" in signal.reason
    assert not PositionGroup.objects.exists() and not PaperOrder.objects.exists()


def test_a_short_on_the_perpetual_chart_opens_on_the_swap_account(route, spot, swap):
    signal = route(side="sell", market_position="short", symbol="BTCUSDT.P", entry_price="100")

    assert signal.status == "opened", signal.reason
    group = PositionGroup.objects.get()
    assert (group.side, group.exchange_account, group.symbol) == ("short", swap, PERP)
    assert {side for side, _ in placed_on(swap)} == {"sell"} and placed_on(spot) == []
    assert not PaperBalance.objects.filter(account=swap, asset="BTC").exists()  # sold short, no coins involved


def test_a_disabled_swap_account_is_named_when_a_perpetual_alert_needs_it(route, spot, swap):
    ExchangeAccount.objects.filter(pk=swap.pk).update(is_enabled=False)

    signal = route(symbol="BTCUSDT.P", entry_price="100")

    assert signal.status == "rejected" and "binance swap account “perp” is disabled" in signal.reason
    assert not PaperOrder.objects.exists()
