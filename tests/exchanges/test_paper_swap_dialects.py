"""The paper swap endpoints in the binance and bybit answer dialects (exchanges.paper.connector: as_placed,
as_queried, as_position), as ccxt reads those exchanges' recorded answers."""

from decimal import Decimal

import pytest

from exchanges.paper.connector import PaperConnector
from exchanges.paper.services import paper_price_set
from tests.factories import ExchangeAccountFactory

pytestmark = pytest.mark.django_db
D = Decimal
BTC = "BTC/USDT:USDT"


def connector(dialect):
    account = ExchangeAccountFactory(
        market_type="swap",
        starting_balance=D("10000"),
        maker_fee_percent=D("0.02"),
        taker_fee_percent=D("0.05"),
        market_slippage_percent=D("0"),
        paper_dialect=dialect,
    )
    swap = PaperConnector(account)
    swap.load_markets()
    paper_price_set(exchange_id="binance", symbol=BTC, price=D("60000"))
    swap.set_leverage(BTC, 3)
    return swap


def open_long(swap):
    return swap.create_order(symbol=BTC, side="buy", type="market", amount=D("0.010"), price=None, client_order_id="l1")


def test_bybit_answers_a_swap_placement_with_ids_only_and_a_lookup_finds_the_fill():
    swap = connector("bybit")
    placed = open_long(swap)
    assert (placed.status, placed.filled, placed.fee) == ("open", D("0"), D("0"))
    found = swap.fetch_order(symbol=BTC, client_order_id="l1")
    assert (found.status, found.filled, found.average, found.fee) == ("closed", D("0.01"), D("60000"), D("0.3"))


def test_binance_answers_a_swap_placement_with_its_state_but_no_commission_and_the_trades_carry_it():
    swap = connector("binance")
    placed = open_long(swap)  # POST /fapi/v1/order with newOrderRespType RESULT
    assert (placed.status, placed.filled, placed.average, placed.fee) == ("closed", D("0.01"), D("60000"), D("0"))
    assert swap.fetch_order(symbol=BTC, client_order_id="l1").fee == D("0")  # queries carry none either
    [trade] = swap.fetch_order_trades(symbol=BTC, client_order_id="l1")
    assert (trade.fee, trade.fee_currency) == (D("0.3"), "USDT")


def test_plain_answers_a_swap_placement_with_its_fill():
    placed = open_long(connector("plain"))
    assert (placed.status, placed.filled, placed.fee) == ("closed", D("0.01"), D("0.3"))


@pytest.mark.parametrize(
    "dialect, leverage, margin_mode, ratio",
    [
        ("plain", D("3"), "isolated", D("2.38") / D("195")),
        ("binance", None, "isolated", D("0.0122")),  # positionRisk v3 has no leverage; ratio half up, 4 places
        ("bybit", D("3"), "", D("0.0122")),  # no margin mode on a unified account's position; ratio cut
    ],
)
def test_positions_in_each_dialect(dialect, leverage, margin_mode, ratio):
    swap = connector(dialect)
    open_long(swap)  # margin 200
    paper_price_set(
        exchange_id="binance", symbol=BTC, price=D("59500")
    )  # unrealised −5, maintenance 595 × 0.4 % = 2.38
    [position] = swap.fetch_positions([BTC])
    assert (position.leverage, position.margin_mode, position.margin_ratio) == (leverage, margin_mode, ratio)
    assert (position.quantity, position.unrealized_pnl, position.mark_price) == (D("0.01"), D("-5"), D("59500"))
    assert position.liquidation_price == D("40160.7")  # (600 − 200) / (0.01 × 0.996) = 40160.642…, up a tick


def test_a_long_at_leverage_1_has_no_liquidation_price_in_any_dialect():
    for dialect in ("plain", "binance", "bybit"):
        swap = connector(dialect)
        swap.set_leverage(BTC, 1)
        swap.create_order(
            symbol=BTC, side="buy", type="market", amount=D("0.010"), price=None, client_order_id=f"{dialect}-1"
        )
        [position] = [p for p in swap.fetch_positions() if p.symbol == BTC]
        assert position.liquidation_price is None  # Binance "0", Bybit "": ccxt reads none
