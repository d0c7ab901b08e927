"""Paper perpetuals: liquidation at the maintenance margin when a price moves (exchanges.paper.liquidation).

What a trader sees: the position gone from fetch_positions, its orders cancelled, an ``autoclose-`` order
in the closed orders with its fill, and the balance down by the margin (isolated) — never more.
"""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from exchanges.models import PaperBalance, PaperFill, PaperOrder, PaperPosition
from exchanges.paper.connector import PaperConnector
from exchanges.paper.services import paper_account_price_set, paper_price_set
from tests.factories import ExchangeAccountFactory

pytestmark = pytest.mark.django_db
D = Decimal
BTC = "BTC/USDT:USDT"  # shipped: contracts of 0.001 BTC, tick 0.1
START = D("10000")


def make_account(start=START, **kwargs):
    return ExchangeAccountFactory(
        market_type="swap",
        starting_balance=start,
        maker_fee_percent=D("0.02"),
        taker_fee_percent=D("0.05"),
        market_slippage_percent=D("0"),
        **kwargs,
    )


@pytest.fixture
def account():
    return make_account()


def connect(account):
    connector = PaperConnector(account)
    connector.load_markets()
    paper_price_set(exchange_id="binance", symbol=BTC, price=D("60000"))
    return connector


@pytest.fixture
def swap(account):
    return connect(account)


def order(connector, side, amount, price=None, cid="o1", **kwargs):
    return connector.create_order(
        symbol=BTC,
        side=side,
        type="limit" if price else "market",
        amount=D(amount),
        price=D(price) if price else None,
        client_order_id=cid,
        **kwargs,
    )


def usdt(account) -> tuple[Decimal, Decimal]:
    row = PaperBalance.objects.get(account=account, asset="USDT")
    return row.free, row.used


def reconciles(account, start=START) -> None:
    fills = list(PaperFill.objects.filter(order__account=account))
    free, used = usdt(account)
    assert free + used == start + sum(f.realized_pnl for f in fills) - sum(f.fee for f in fills)
    margins = sum(p.margin for p in PaperPosition.objects.filter(account=account))
    holds = sum(o.margin_held for o in PaperOrder.objects.filter(account=account, status="open"))
    assert used == margins + holds and used >= 0 and free >= 0


def price(value, **kwargs):
    return paper_price_set(exchange_id="binance", symbol=BTC, price=D(value), **kwargs)


def liquidation_of(connector):
    [autoclose] = [o for o in connector.fetch_closed_orders(BTC) if o.client_order_id.startswith("autoclose-")]
    return autoclose


def test_a_long_is_liquidated_at_its_liquidation_price_its_orders_cancelled_and_only_its_margin_lost(swap, account):
    swap.set_leverage(BTC, 10)
    order(swap, "buy", "0.010")  # 10 contracts at 60000: margin 60, taker fee 0.30
    order(swap, "buy", "0.010", "45000", cid="dca")  # a deeper leg, below the liquidation price
    order(swap, "sell", "0.010", "62000", cid="tp", reduce_only=True)
    [long] = swap.fetch_positions([BTC])
    # (600 - 60) / (0.01 × (1 − 0.4 %)) = 54216.867…, on the tick towards the entry (notional 542: the first
    # tier, 0.40 %)
    assert long.liquidation_price == D("54216.9")
    assert long.margin_ratio == D("0.004") * 600 / 60  # at the entry: maintenance 2.4 / margin 60

    assert price("54300").liquidated == 0  # not yet
    assert len(swap.fetch_positions([BTC])) == 1

    result = price("50000")  # jumps past it: closed at the liquidation price all the same

    assert result.liquidated == 1
    assert swap.fetch_positions([BTC]) == []
    assert {
        o.client_order_id: o.status for o in swap.fetch_closed_orders(BTC) if o.client_order_id in ("dca", "tp")
    } == {
        "dca": "canceled",
        "tp": "canceled",
    }
    assert swap.fetch_open_orders(BTC) == []
    autoclose = liquidation_of(swap)
    assert (autoclose.side, autoclose.status, autoclose.filled, autoclose.average) == (
        "sell",
        "closed",
        D("0.01"),
        D("54216.9"),
    )
    [trade] = swap.fetch_order_trades(symbol=BTC, id=autoclose.id)
    assert (trade.price, trade.amount) == (D("54216.9"), D("0.01"))
    fill = PaperFill.objects.get(order__client_order_id=autoclose.client_order_id)
    assert fill.realized_pnl == D("-57.831")  # (54216.9 - 60000) × 0.01
    assert fill.realized_pnl - fill.fee == D("-60")  # the clearance takes the rest of the margin: 2.169
    assert usdt(account) == (START - D("60") - D("0.30"), D("0"))  # start − margin − fees, nothing more
    reconciles(account)


def test_a_short_is_liquidated_at_its_liquidation_price_when_the_price_gaps_through_it(swap, account):
    swap.set_leverage(BTC, 5)
    order(swap, "sell", "0.010")  # margin 120, fee 0.30
    order(swap, "buy", "0.010", "55000", cid="tp", reduce_only=True)
    [short] = swap.fetch_positions([BTC])
    assert short.liquidation_price == D("71713.1")  # (600 + 120) / (0.01 × 1.004) = 71713.14…, down to the tick

    assert price("71600").liquidated == 0
    assert price("80000").liquidated == 1

    autoclose = liquidation_of(swap)
    assert (autoclose.side, autoclose.average, autoclose.filled) == ("buy", D("71713.1"), D("0.01"))
    assert swap.fetch_order(symbol=BTC, client_order_id="tp").status == "canceled"
    assert swap.fetch_positions() == []
    assert usdt(account) == (START - D("120") - D("0.30"), D("0"))
    reconciles(account)


def test_hedge_mode_liquidates_one_leg_and_cancels_that_legs_orders_only(account):
    account.paper_position_mode = "hedge"
    account.save()
    swap = connect(account)
    swap.set_leverage(BTC, 20)
    order(swap, "buy", "0.010", position_side="long")  # margin 30 each, fee 0.30 each
    order(swap, "sell", "0.010", cid="s1", position_side="short")
    order(swap, "buy", "0.010", "55000", cid="long-dca", position_side="long")
    order(swap, "sell", "0.010", "90000", cid="short-dca", position_side="short")

    assert price("64000").liquidated == 1  # the short's: (600 + 30) / 0.01004 = 62749.00… → 62749.0

    [left] = swap.fetch_positions([BTC])
    assert (left.side, left.position_side, left.quantity) == ("long", "long", D("0.01"))
    assert swap.fetch_order(symbol=BTC, client_order_id="short-dca").status == "canceled"
    assert swap.fetch_order(symbol=BTC, client_order_id="long-dca").status == "open"
    assert liquidation_of(swap).average == D("62749.0")
    reconciles(account)


def test_an_accounts_own_price_liquidates_its_positions_only(swap, account):
    other = make_account()
    other_swap = PaperConnector(other)
    for connector in (swap, other_swap):
        connector.set_leverage(BTC, 10)
        order(connector, "buy", "0.010")

    paper_account_price_set(account=account, symbol=BTC, price=D("50000"))

    assert swap.fetch_positions() == []
    assert len(other_swap.fetch_positions()) == 1
    reconciles(account)
    reconciles(other)


def test_cross_margin_draws_on_the_free_balance_so_its_liquidation_price_is_further(account):
    # Two accounts of 200 USDT, one isolated, one cross, the same long: 0.01 BTC at 60000, leverage 10.
    isolated, cross = make_account(D("200")), make_account(D("200"))
    books = {}
    for which, mode in ((isolated, "isolated"), (cross, "cross")):
        connector = connect(which)
        connector.set_margin_mode(BTC, mode, leverage=10)
        order(connector, "buy", "0.010")
        books[mode] = connector
    [iso] = books["isolated"].fetch_positions()
    [crs] = books["cross"].fetch_positions()
    assert iso.liquidation_price == D("54216.9")  # margin 60 only
    # cross: free 139.70 + margin 60 = 199.70 stands behind it: (600 - 199.70) / 0.00996 = 40190.76…
    assert crs.liquidation_price == D("40190.8")
    assert crs.margin_mode == "cross"
    assert crs.margin_ratio == D("2.4") / D("199.7")  # maintenance / (free + margin + unrealised 0)

    price("45000")
    assert books["isolated"].fetch_positions() == [] and len(books["cross"].fetch_positions()) == 1
    assert usdt(isolated) == (D("200") - D("60") - D("0.30"), D("0"))

    price("40000")
    assert books["cross"].fetch_positions() == []
    fill = PaperFill.objects.get(order__account=cross, order__client_order_id__startswith="autoclose-")
    # lost: the loss at 40190.8 (198.092) plus its maintenance margin there (401.908 × 0.4 % = 1.607632), from
    # margin then free
    assert (fill.realized_pnl, fill.fee) == (D("-198.092"), D("1.607632"))
    assert usdt(cross) == (D("0.000368"), D("0"))
    reconciles(isolated, D("200"))
    reconciles(cross, D("200"))


def test_a_cross_position_shares_its_pool_with_the_accounts_other_cross_positions(account):
    account.starting_balance = D("200")
    account.save()
    swap = connect(account)
    paper_price_set(exchange_id="binance", symbol="ETH/USDT:USDT", price=D("3000"))
    swap.set_margin_mode(BTC, "cross", leverage=10)
    order(swap, "buy", "0.010")
    [alone] = swap.fetch_positions([BTC])
    swap.set_margin_mode("ETH/USDT:USDT", "cross", leverage=10)
    swap.create_order(
        symbol="ETH/USDT:USDT", side="buy", type="market", amount=D("0.1"), price=None, client_order_id="e1"
    )
    paper_price_set(exchange_id="binance", symbol="ETH/USDT:USDT", price=D("2700"))  # ETH long loses 30
    [shared] = swap.fetch_positions([BTC])
    assert shared.liquidation_price > alone.liquidation_price  # the ETH loss eats the pool BTC draws on
    reconciles(account, D("200"))


def test_a_dca_leg_the_drop_crosses_fills_first_and_the_bigger_position_is_liquidated_at_its_new_price(swap, account):
    swap.set_leverage(BTC, 10)
    order(swap, "buy", "0.010")  # margin 60, fee 0.30
    order(swap, "buy", "0.010", "57000", cid="dca")  # fills as maker on the way down: margin 57, fee 0.114
    out = StringIO()

    call_command("paper", "price", "binance", BTC, "50000", stdout=out)

    assert "1 order(s) filled, 1 position(s) liquidated" in out.getvalue()
    # 0.02 BTC at 58500 with 117 margin: (1170 − 117) / (0.02 × 0.996) = 52861.44… → 52861.5
    assert liquidation_of(swap).average == D("52861.5")
    assert swap.fetch_order(symbol=BTC, client_order_id="dca").filled == D("0.01")
    assert usdt(account) == (START - D("117") - D("0.30") - D("0.114"), D("0"))
    reconciles(account)
    assert price("40000").liquidated == 0  # nothing left to liquidate
