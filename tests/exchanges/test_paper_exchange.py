"""The paper exchange through the connector interface: fills, partial fills, fees, funds, slippage, feeds."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from exchanges.connector import BadSymbol, InsufficientFunds, InvalidOrder, OrderNotFound, OrderStatusUnknown
from exchanges.models import ExchangeAccount, PaperFill, PaperOrder, PaperPrice
from exchanges.paper.connector import PaperConnector
from exchanges.paper.services import paper_feed_tick, paper_price_set
from tests.concurrency import at_once
from tests.factories import ExchangeAccountFactory
from tests.paper_markets import list_paper_market

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def btc_market():
    list_paper_market()


@pytest.fixture
def connector(btc_market):
    return PaperConnector(ExchangeAccountFactory(price_feed="manual", starting_balance=D("10000")))


def buy(connector, amount, price, client_order_id="dce1", type="limit"):
    return connector.create_order(
        symbol="BTC/USDT",
        side="buy",
        type=type,
        amount=D(amount),
        price=D(price) if price else None,
        client_order_id=client_order_id,
    )


def test_issue_scenario_limit_buy_fills_at_its_limit_when_price_drops_below(connector, capsys):
    placed = buy(connector, "2.020", "99.00", "dceabc")
    assert placed.status == "open"

    call_command("paper", "price", "binance", "BTC/USDT", "98.5")

    order = connector.fetch_order(symbol="BTC/USDT", client_order_id="dceabc")
    assert (order.status, order.filled, order.average) == ("closed", D("2.020"), D("99.00"))
    assert (order.fee, order.fee_currency) == (D("0.00202"), "BTC")  # 0.1 % maker, paid in base
    balance = connector.balance()
    assert balance.free["USDT"] == D("10000") - D("2.020") * D("99.00")
    assert balance.free["BTC"] == D("2.020") - D("0.00202")
    assert PaperFill.objects.get().price == D("99.00")
    assert "1 order(s) filled" in capsys.readouterr().out


def test_resting_order_holds_its_funds_until_it_fills_or_is_cancelled(connector):
    buy(connector, "2.000", "100.00", "dce1")
    held = connector.balance()
    assert (held.free["USDT"], held.used["USDT"]) == (D("9800"), D("200"))

    connector.cancel_order(symbol="BTC/USDT", client_order_id="dce1")

    released = connector.balance()
    assert (released.free["USDT"], released.used["USDT"]) == (D("10000"), D("0"))
    with pytest.raises(OrderNotFound):
        connector.cancel_order(symbol="BTC/USDT", client_order_id="dce1")


def test_price_above_the_limit_fills_nothing(connector):
    buy(connector, "2.000", "99.00")
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("99.01"))
    assert connector.fetch_order(symbol="BTC/USDT", client_order_id="dce1").filled == 0


def test_partial_fill_ratio_fills_half_per_matching_pass(btc_market):
    connector = PaperConnector(ExchangeAccountFactory(price_feed="manual", partial_fill_ratio=D("0.5")))
    buy(connector, "2.020", "99.00")

    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("98.9"))
    first = connector.fetch_order(symbol="BTC/USDT", client_order_id="dce1")
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("98.8"))
    second = connector.fetch_order(symbol="BTC/USDT", client_order_id="dce1")

    assert (first.status, first.filled) == ("open", D("1.010"))
    assert (second.status, second.filled) == ("closed", D("2.020"))
    assert PaperFill.objects.count() == 2


def test_take_profit_sell_fills_at_its_limit_and_pays_the_fee_in_quote(connector):
    buy(connector, "2.000", "100.00", "dceentry")
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("100"))
    connector.create_order(
        symbol="BTC/USDT", side="sell", type="limit", amount=D("1.998"), price=D("102.00"), client_order_id="dcetp"
    )

    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("102.5"))

    tp = connector.fetch_order(symbol="BTC/USDT", client_order_id="dcetp")
    assert (tp.status, tp.average, tp.fee, tp.fee_currency) == ("closed", D("102.00"), D("0.203796"), "USDT")
    assert connector.balance().free["USDT"] == D("9800") + D("1.998") * D("102") - D("0.203796")


def test_market_order_fills_at_once_at_the_price_plus_slippage_and_pays_taker_fee(btc_market):
    connector = PaperConnector(
        ExchangeAccountFactory(price_feed="manual", market_slippage_percent=D("0.1"), taker_fee_percent=D("0.2"))
    )
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("100"))

    order = buy(connector, "1.000", None, type="market")

    assert (order.status, order.filled, order.average) == ("closed", D("1.000"), D("100.10"))
    assert order.fee == D("0.002")
    assert connector.balance().free["USDT"] == D("10000") - D("100.10")


def test_market_order_without_a_price_is_refused_with_a_way_out(connector):
    with pytest.raises(InvalidOrder, match="paper price binance BTC/USDT"):
        buy(connector, "1.000", None, type="market")


def test_insufficient_funds_is_refused_like_binance_and_leaves_nothing(connector):
    with pytest.raises(InsufficientFunds, match="insufficient balance"):
        buy(connector, "200.000", "99.00")
    with pytest.raises(InsufficientFunds):
        connector.create_order(
            symbol="BTC/USDT", side="sell", type="limit", amount=D("1.000"), price=D("100"), client_order_id="dcesell"
        )
    assert not PaperOrder.objects.exists()
    assert connector.balance().free["USDT"] == D("10000")


@pytest.mark.parametrize(
    "amount,price,message",
    [
        ("2.0205", "99.00", "LOT_SIZE"),
        ("0.0001", "99.00", "LOT_SIZE"),
        ("2.020", "99.005", "PRICE_FILTER"),
        ("0.100", "99.00", "NOTIONAL"),
    ],
)
def test_orders_off_the_market_precision_are_refused(connector, amount, price, message):
    with pytest.raises(InvalidOrder, match=message):
        buy(connector, amount, price)
    assert not PaperOrder.objects.exists()


def test_a_client_order_id_is_accepted_once(connector):
    buy(connector, "1.000", "90.00", "dcesame")
    # As Binance's -2010 through the ccxt connector: the id is taken, so look the order up, don't fail it.
    with pytest.raises(OrderStatusUnknown, match="Duplicate order"):
        buy(connector, "1.000", "90.00", "dcesame")
    assert PaperOrder.objects.count() == 1


def test_open_and_closed_orders_are_listed_per_symbol(connector):
    buy(connector, "1.000", "99.00", "dcea")
    buy(connector, "1.000", "90.00", "dceb")
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("95"))

    assert [o.client_order_id for o in connector.fetch_open_orders("BTC/USDT")] == ["dceb"]
    assert [o.client_order_id for o in connector.fetch_closed_orders("BTC/USDT")] == ["dcea"]


def test_place_order_retry_finds_the_first_order_instead_of_sending_again(connector):
    first = buy(connector, "1.000", "90.00", "dceretry")

    again = connector.place_order(
        symbol="BTC/USDT",
        side="buy",
        type="limit",
        amount=D("1.000"),
        price=D("90.00"),
        client_order_id="dceretry",
        is_retry=True,
    )

    assert again.id == first.id
    assert PaperOrder.objects.count() == 1


def test_markets_come_from_the_shipped_file_and_resolve_tradingview_symbols(db):
    connector = PaperConnector(ExchangeAccountFactory(exchange_id="bybit", price_feed="manual"))

    assert connector.resolve_symbol("BYBIT:ETHUSDT") == "ETH/USDT"
    assert connector.market("ETH/USDT").tick_size == D("0.01")
    with pytest.raises(BadSymbol, match="Unknown market 'FOOUSDT' on bybit"):
        connector.resolve_symbol("FOOUSDT")


def test_paper_price_command_refuses_an_unknown_market(db):
    with pytest.raises(CommandError, match="Unknown market"):
        call_command("paper", "price", "binance", "FOOUSDT", "1")


def test_synthetic_feed_walks_prices_with_orders_and_matches_them(btc_market):
    account = ExchangeAccountFactory(price_feed="synthetic", synthetic_seed=3)
    connector = PaperConnector(account)
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("100"))
    buy(connector, "1.000", "99.50")

    path = []
    for _ in range(400):
        paper_feed_tick()
        path.append(PaperPrice.objects.get(symbol="BTC/USDT").price)
        if connector.fetch_order(symbol="BTC/USDT", client_order_id="dce1").status == "closed":
            break

    assert len(set(path)) > 5
    assert min(path) <= D("99.50")
    assert connector.fetch_order(symbol="BTC/USDT", client_order_id="dce1").status == "closed"


def test_synthetic_feed_replays_the_same_path_for_the_same_seed(btc_market):
    ExchangeAccountFactory(price_feed="synthetic", synthetic_seed=11)

    def run():
        paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("100"))
        PaperPrice.objects.update(walk_step=0)
        path = []
        for _ in range(20):
            paper_feed_tick()
            path.append(PaperPrice.objects.get(symbol="BTC/USDT").price)
        return path

    assert run() == run()


def test_manual_feed_does_not_move(connector):
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("100"))
    paper_feed_tick()
    assert PaperPrice.objects.get(symbol="BTC/USDT").price == D("100")


def test_a_first_sale_credits_on_top_of_the_starting_balance(btc_market):
    from exchanges.models import PaperBalance

    account = ExchangeAccountFactory(price_feed="manual", starting_balance=D("1000"), maker_fee_percent=0)
    PaperBalance.objects.create(account=account, asset="BTC", free=D("1"))
    connector = PaperConnector(account)
    connector.create_order(
        symbol="BTC/USDT", side="sell", type="limit", amount=D("1.000"), price=D("100.00"), client_order_id="dcesell1"
    )

    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("100"))

    assert connector.balance().free["USDT"] == D("1100")


# --- Fidelity (row 16 of the books review) ------------------------------------------------------


def test_a_limit_that_crosses_on_arrival_takes_the_book_at_the_market_not_at_its_limit(btc_market):
    account = ExchangeAccountFactory(price_feed="manual", starting_balance=D("10000"), market_slippage_percent=0)
    account.refresh_from_db()
    connector = PaperConnector(account)
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("100.00"))

    placed = buy(connector, "1.000", "105.00")

    assert (placed.status, placed.average) == ("closed", D("100.00"))
    assert connector.balance().free["USDT"] == D("10000") - D("100.00")  # the 5.00 above the market stays


def test_a_market_order_under_the_minimum_notional_is_refused_like_binance(connector):
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("100.00"))
    with pytest.raises(InvalidOrder, match="NOTIONAL"):
        buy(connector, "0.090", None, type="market")  # 9 USDT < 10
    assert not PaperOrder.objects.exists()


def test_concurrent_copies_of_one_client_order_id_place_one_order_and_hear_look_it_up(btc_market, transactional_db):
    # The check was read-then-insert: copies racing it died on a raw IntegrityError. Now the unique
    # constraint decides, and a copy hears Binance's "duplicate", which the connector turns into
    # "status unknown: look it up".
    account = ExchangeAccountFactory(price_feed="manual", starting_balance=D("10000"))
    account.refresh_from_db()

    def send():
        buy(PaperConnector(account), "1.000", "90.00", "dcesame")
        return "placed"

    outcomes = [
        "look it up" if isinstance(o, OrderStatusUnknown) and "Duplicate order sent." in str(o) else o
        for o in at_once(send, 4)
    ]

    assert sorted(outcomes) == ["look it up"] * 3 + ["placed"]
    assert PaperOrder.objects.filter(client_order_id="dcesame").count() == 1
    assert PaperConnector(account).balance().used["USDT"] == D("90.00")


def test_binance_refuses_a_client_order_id_only_while_its_order_is_open(btc_market):
    # Binance accepts a client order id again once its order is closed: a resend that does not look
    # the first order up doubles it. The binance dialect behaves so, to keep the engine honest.
    connector = PaperConnector(
        ExchangeAccountFactory(price_feed="manual", starting_balance=D("10000"), paper_dialect="binance")
    )
    buy(connector, "1.000", "90.00", "dcereuse")
    with pytest.raises(OrderStatusUnknown, match="Duplicate order"):
        buy(connector, "1.000", "90.00", "dcereuse")
    connector.cancel_order(symbol="BTC/USDT", client_order_id="dcereuse")

    again = buy(connector, "1.000", "80.00", "dcereuse")

    assert PaperOrder.objects.filter(client_order_id="dcereuse").count() == 2
    looked_up = connector.fetch_order(symbol="BTC/USDT", client_order_id="dcereuse")
    assert (looked_up.id, looked_up.status, looked_up.price) == (again.id, "open", D("80.00"))  # the latest answers


@pytest.mark.parametrize("dialect", ["plain", "bybit"])
def test_other_dialects_refuse_a_client_order_id_for_good(btc_market, dialect):
    connector = PaperConnector(
        ExchangeAccountFactory(price_feed="manual", starting_balance=D("10000"), paper_dialect=dialect)
    )
    buy(connector, "1.000", "90.00", "dceonce")
    connector.cancel_order(symbol="BTC/USDT", client_order_id="dceonce")
    with pytest.raises(OrderStatusUnknown, match="Duplicate order"):
        buy(connector, "1.000", "90.00", "dceonce")
    assert PaperOrder.objects.filter(client_order_id="dceonce").count() == 1


def test_concurrent_copies_of_a_market_order_that_fills_at_once_place_one_order(btc_market, transactional_db):
    # A market order is closed before its transaction commits: the unique index (open orders only)
    # cannot decide between copies; the per-id lock does.
    account = ExchangeAccountFactory(price_feed="manual", starting_balance=D("10000"))
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("100.00"))

    def send():
        buy(PaperConnector(ExchangeAccount.objects.get(pk=account.pk)), "1.000", None, "dcemarket", type="market")
        return "placed"

    outcomes = ["look it up" if isinstance(o, OrderStatusUnknown) else o for o in at_once(send, 4)]

    assert sorted(outcomes) == ["look it up"] * 3 + ["placed"]
    assert PaperOrder.objects.filter(client_order_id="dcemarket").count() == 1
