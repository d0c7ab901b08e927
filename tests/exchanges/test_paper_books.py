"""Another trader's write never changes what my paper orders match against.

Given traders A and B, each with a paper account on binance, the shared BTC/USDT price at 100 and a
resting buy of A's at 99: B's price is B's own book (A's order, ticker and balances untouched, B's
orders filled at B's price), market rules are staff-only, and a shared move (feed or operator) skips
an account that set its own price until it drops it.
"""

from decimal import Decimal
from io import StringIO

import pytest

from exchanges.models import PaperBalance, PaperMarket, PaperOrder, PaperPrice
from exchanges.paper.connector import PaperConnector
from exchanges.paper.services import paper_feed_tick, paper_price_set
from tests.api_client import client_for
from tests.factories import ExchangeAccountFactory, UserFactory
from tests.paper_markets import list_paper_market

pytestmark = pytest.mark.django_db
D = Decimal
BTC = "BTC/USDT"


def book(account) -> list[tuple]:
    return list(
        PaperOrder.objects.filter(account=account).order_by("pk").values_list("side", "price", "filled", "status")
    )


def balances(account) -> list[tuple]:
    return list(PaperBalance.objects.filter(account=account).order_by("asset").values_list("asset", "free", "used"))


def rest_buy(account, price: str, client_order_id: str):
    return PaperConnector(account).create_order(
        symbol=BTC, side="buy", type="limit", amount=D("1.000"), price=D(price), client_order_id=client_order_id
    )


@pytest.fixture
def market(db):
    list_paper_market(BTC, stdout=StringIO())
    paper_price_set(exchange_id="binance", symbol=BTC, price=D("100"))


@pytest.fixture
def victim(market):
    """A, with a resting buy at 99 on the shared price of 100."""
    account = ExchangeAccountFactory(
        user=UserFactory(username="victim"), maker_fee_percent=0, taker_fee_percent=0, market_slippage_percent=D("0.05")
    )
    rest_buy(account, "99.00", "dce-victim")
    return account


@pytest.fixture
def attacker(market):
    return ExchangeAccountFactory(
        user=UserFactory(username="attacker"),
        maker_fee_percent=0,
        taker_fee_percent=0,
        market_slippage_percent=D("0.05"),
    )


def test_another_traders_price_of_1_fills_none_of_my_orders_nor_moves_my_ticker(victim, attacker):
    before = book(victim), balances(victim)

    response = client_for(attacker.user).post(
        "/api/v1/paper/prices", {"exchange": "binance", "symbol": "BTCUSDT", "price": "1"}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json() == {"exchange": "binance", "symbol": BTC, "price": "1.000000000000", "filled_orders": 0}
    assert (book(victim), balances(victim)) == before
    assert book(victim) == [("buy", D("99.00"), 0, "open")]
    assert PaperConnector(victim).ticker(BTC).last == D("100")
    assert PaperPrice.objects.get(exchange_id="binance", symbol=BTC).price == D("100")
    assert client_for(victim.user).get("/api/v1/paper/prices").json() == [
        {
            "exchange": "binance",
            "symbol": BTC,
            "price": "100.000000000000",
            "scope": "shared",
            "updated_at": PaperPrice.objects.get(symbol=BTC).updated_at.isoformat().replace("+00:00", "Z"),
        }
    ]


def test_my_own_price_fills_my_own_order_at_its_limit(victim, attacker):
    rest_buy(attacker, "99.00", "dce-attacker")

    response = client_for(attacker.user).post(
        "/api/v1/paper/prices", {"exchange": "binance", "symbol": BTC, "price": "98"}, format="json"
    )

    assert response.json()["filled_orders"] == 1
    assert book(attacker) == [("buy", D("99.00"), D("1.000"), "closed")]
    assert PaperOrder.objects.get(account=attacker).fills.get().price == D("99.00")
    assert PaperConnector(attacker).ticker(BTC).last == D("98")
    assert book(victim) == [("buy", D("99.00"), 0, "open")]
    assert [(q["price"], q["scope"]) for q in client_for(attacker.user).get("/api/v1/paper/prices").json()] == [
        ("98.000000000000", "account")
    ]


def test_a_market_order_fills_at_the_accounts_own_price(victim, attacker):
    client_for(attacker.user).post(
        "/api/v1/paper/prices", {"exchange": "binance", "symbol": BTC, "price": "50"}, format="json"
    )

    theirs = PaperConnector(attacker).create_order(
        symbol=BTC, side="buy", type="market", amount=D("1"), price=None, client_order_id="dce-a-market"
    )
    mine = PaperConnector(victim).create_order(
        symbol=BTC, side="buy", type="market", amount=D("1"), price=None, client_order_id="dce-v-market"
    )

    assert theirs.average == D("50.03")  # 50 moved by the 0.05 % slippage, on the tick grid
    assert mine.average == D("100.05")


def test_a_shared_move_skips_an_account_with_its_own_price_until_it_drops_it(victim, attacker):
    rest_buy(attacker, "99.00", "dce-attacker")
    api = client_for(attacker.user)
    api.post("/api/v1/paper/prices", {"exchange": "binance", "symbol": BTC, "price": "105"}, format="json")

    moved = paper_price_set(exchange_id="binance", symbol=BTC, price=D("98"))  # the operator's `paper price`

    assert moved.fills == 1
    assert book(victim) == [("buy", D("99.00"), D("1.000"), "closed")]
    assert book(attacker) == [("buy", D("99.00"), 0, "open")]
    assert PaperConnector(attacker).ticker(BTC).last == D("105")

    dropped = api.delete("/api/v1/paper/prices?exchange=binance&symbol=BTCUSDT")

    assert dropped.status_code == 200, dropped.json()
    assert dropped.json() == {"exchange": "binance", "symbol": BTC, "price": "98.000000000000", "filled_orders": 1}
    assert book(attacker) == [("buy", D("99.00"), D("1.000"), "closed")]
    assert PaperConnector(attacker).ticker(BTC).last == D("98")
    assert api.delete("/api/v1/paper/prices?exchange=binance&symbol=BTCUSDT").status_code == 404


def test_the_synthetic_walk_skips_an_account_with_its_own_price(market, attacker):
    walker = ExchangeAccountFactory(user=UserFactory(username="walker"), price_feed="synthetic")
    rest_buy(walker, "99.99", "dce-walker")
    rest_buy(attacker, "99.99", "dce-attacker")
    client_for(attacker.user).post(
        "/api/v1/paper/prices", {"exchange": "binance", "symbol": BTC, "price": "200"}, format="json"
    )

    for _ in range(200):  # 0.1 % steps: the walk crosses 99.99 within a few dozen
        paper_feed_tick()
        if PaperOrder.objects.get(account=walker).status == "closed":
            break

    assert PaperOrder.objects.get(account=walker).status == "closed"
    assert book(attacker) == [("buy", D("99.99"), 0, "open")]
    assert PaperConnector(attacker).ticker(BTC).last == D("200")


def test_a_trader_cannot_edit_the_markets_everyone_trades(victim, attacker):
    before = PaperMarket.objects.filter(exchange_id="binance", symbol=BTC).values().get()

    response = client_for(attacker.user).post(
        "/api/v1/paper/markets",
        {"exchange": "binance", "symbol": BTC, "tick_size": "10", "step_size": "1", "min_notional": "1000000"},
        format="json",
    )

    assert response.status_code == 403
    assert "only an operator (staff) edits them" in response.json()["detail"]
    assert PaperMarket.objects.filter(exchange_id="binance", symbol=BTC).values().get() == before
    # The victim can still place what the exchange's rules allow.
    assert rest_buy(victim, "98.00", "dce-after").status == "open"


def test_staff_edit_the_markets(market):
    operator = UserFactory(username="operator", is_staff=True)

    response = client_for(operator).post(
        "/api/v1/paper/markets",
        {"exchange": "binance", "symbol": BTC, "tick_size": "0.1", "step_size": "0.01", "min_notional": "5"},
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert PaperMarket.objects.get(exchange_id="binance", symbol=BTC).tick_size == D("0.1")
