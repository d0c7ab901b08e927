"""Paper linear perpetuals through the connector: what reaches the book, positions, margin, PnL and fees.

After every step the account reconciles to the last unit: the USDT total is the starting balance plus the
realised PnL minus the fees of the fills, and ``used`` is the positions' margins plus what open orders hold.
"""

from decimal import Decimal

import pytest

from exchanges.connector import BadSymbol, InsufficientFunds, InvalidOrder
from exchanges.models import ExchangeAccount, PaperBalance, PaperFill, PaperOrder, PaperPosition
from exchanges.paper import swaps
from exchanges.paper.connector import PaperConnector
from exchanges.paper.services import paper_price_set
from tests.factories import ExchangeAccountFactory

pytestmark = pytest.mark.django_db
D = Decimal
BTC = "BTC/USDT:USDT"  # shipped: contracts of 0.001 BTC, tick 0.1
ETH = "ETH/USDT:USDT"  # shipped: contracts of 0.01 ETH (OKX's size)
START = D("10000")


@pytest.fixture
def account():
    return ExchangeAccountFactory(
        market_type="swap",
        starting_balance=START,
        maker_fee_percent=D("0.02"),
        taker_fee_percent=D("0.05"),
        market_slippage_percent=D("0"),
    )


@pytest.fixture
def swap(account):
    connector = PaperConnector(account)
    connector.load_markets()
    paper_price_set(exchange_id="binance", symbol=BTC, price=D("60000"))
    paper_price_set(exchange_id="binance", symbol=ETH, price=D("3000"))
    return connector


def order(connector, side, amount, price=None, cid="o1", symbol=BTC, **kwargs):
    return connector.create_order(
        symbol=symbol,
        side=side,
        type="limit" if price else "market",
        amount=D(amount),
        price=D(price) if price else None,
        client_order_id=cid,
        **kwargs,
    )


def usdt(account) -> PaperBalance:
    return PaperBalance.objects.get(account=account, asset="USDT")


def reconciles(account) -> None:
    fills = list(PaperFill.objects.filter(order__account=account))
    balance = usdt(account)
    assert balance.free + balance.used == START + sum(f.realized_pnl for f in fills) - sum(f.fee for f in fills)
    margins = sum(p.margin for p in PaperPosition.objects.filter(account=account))
    holds = sum(o.margin_held for o in PaperOrder.objects.filter(account=account, status="open"))
    assert balance.used == margins + holds
    assert balance.free >= 0


def position(connector, symbol=BTC, side=None):
    found = [p for p in connector.fetch_positions([symbol]) if side is None or p.position_side == side]
    assert len(found) <= 1
    return found[0] if found else None


def test_short_at_leverage_5_added_to_then_closed_reduce_only_in_parts(swap, account):
    swap.set_leverage(BTC, 5)
    opened = order(swap, "sell", "0.010")  # 10 contracts at 60000: notional 600, margin 120, taker fee 0.30
    assert (opened.status, opened.amount, opened.filled, opened.average) == ("closed", D("0.01"), D("0.01"), D("60000"))
    assert (usdt(account).free, usdt(account).used) == (D("9879.7"), D("120"))
    reconciles(account)

    resting = order(swap, "sell", "0.010", "62000", cid="o2")  # holds 124 margin + 0.31 fee until it fills
    assert resting.status == "open"
    assert (usdt(account).free, usdt(account).used) == (D("9755.39"), D("244.31"))
    reconciles(account)
    paper_price_set(exchange_id="binance", symbol=BTC, price=D("62000"))  # fills as maker: fee 0.124
    short = position(swap)
    assert (short.side, short.quantity, short.entry_price, short.leverage) == ("short", D("0.02"), D("61000"), 5)
    assert short.position_side is None and short.liquidation_price > D("61000")
    assert (usdt(account).free, usdt(account).used) == (D("9755.576"), D("244"))
    reconciles(account)

    paper_price_set(exchange_id="binance", symbol=BTC, price=D("58000"))
    part = order(swap, "buy", "0.005", "58000", cid="o3", reduce_only=True)  # crosses: taker, fee 0.145
    assert (part.status, part.filled) == ("closed", D("0.005"))
    assert PaperFill.objects.get(order__client_order_id="o3").realized_pnl == D("15")  # short, price fell: profit
    assert position(swap).quantity == D("0.015")
    reconciles(account)

    rest = order(swap, "buy", "0.015", cid="o4", reduce_only=True)
    assert (rest.status, rest.filled) == ("closed", D("0.015"))
    assert position(swap) is None
    balance = usdt(account)
    fees = D("0.30") + D("0.124") + D("0.145") + D("0.435")
    assert (balance.free, balance.used) == (START + D("60") - fees, D("0"))
    reconciles(account)


def test_a_losing_long_realises_a_negative_pnl(swap, account):
    order(swap, "buy", "0.010")
    paper_price_set(exchange_id="binance", symbol=BTC, price=D("57000"))
    order(swap, "sell", "0.010", cid="o2", reduce_only=True)
    assert PaperFill.objects.get(order__client_order_id="o2").realized_pnl == D("-30")
    assert usdt(account).free == START - 30 - D("0.30") - D("0.285")
    reconciles(account)


def test_a_reduce_only_order_is_cut_to_the_position_and_refused_when_it_would_increase(swap, account):
    with pytest.raises(InvalidOrder, match="ReduceOnly Order is rejected"):
        order(swap, "sell", "0.005", reduce_only=True)  # no position
    order(swap, "buy", "0.010", cid="o1")
    with pytest.raises(InvalidOrder, match="ReduceOnly Order is rejected"):
        order(swap, "buy", "0.005", cid="o2", reduce_only=True)  # would increase the long

    cut = order(swap, "sell", "0.050", "61000", cid="o3", reduce_only=True)
    assert (cut.status, cut.amount) == ("open", D("0.01"))
    assert usdt(account).used == D("600")  # a reduce-only order holds nothing: only the position's margin (1x)
    reconciles(account)

    # The position shrinks by hand before the price comes: the reduce-only order fills what is left, and no more.
    order(swap, "sell", "0.004", cid="o4", reduce_only=True)
    paper_price_set(exchange_id="binance", symbol=BTC, price=D("61000"))
    done = swap.fetch_order(symbol=BTC, client_order_id="o3")
    assert (done.status, done.filled) == ("canceled", D("0.006"))
    assert position(swap) is None
    reconciles(account)


def test_one_way_an_opposite_order_reduces_then_flips(swap, account):
    swap.set_leverage(BTC, 10)
    order(swap, "buy", "0.010")
    paper_price_set(exchange_id="binance", symbol=BTC, price=D("61000"))
    order(swap, "sell", "0.030", cid="o2")  # closes 0.010 (+10) and opens a 0.020 short at 61000
    assert PaperFill.objects.get(order__client_order_id="o2").realized_pnl == D("10")
    flipped = position(swap)
    assert (flipped.side, flipped.quantity, flipped.entry_price) == ("short", D("0.02"), D("61000"))
    assert PaperPosition.objects.get(account=account).margin == D("122")  # 1220 / 10
    reconciles(account)


def test_hedge_mode_keeps_a_long_and_a_short_on_one_symbol_closed_independently(swap, account):
    swaps.position_mode_set(account, "hedge")
    assert swap.position_mode() == "hedge"
    with pytest.raises(InvalidOrder, match="position side does not match"):
        order(swap, "buy", "0.010")
    with pytest.raises(InvalidOrder, match="reduceOnly"):
        order(swap, "sell", "0.010", position_side="long", reduce_only=True)

    order(swap, "buy", "0.010", cid="l1", position_side="long")
    order(swap, "sell", "0.020", cid="s1", position_side="short")
    assert (position(swap, side="long").quantity, position(swap, side="short").quantity) == (D("0.01"), D("0.02"))
    reconciles(account)

    paper_price_set(exchange_id="binance", symbol=BTC, price=D("61000"))
    closed = order(swap, "sell", "0.050", cid="l2", position_side="long")  # a close of the long leg: cut to it
    assert (closed.amount, closed.filled) == (D("0.01"), D("0.01"))
    assert PaperFill.objects.get(order__client_order_id="l2").realized_pnl == D("10")
    assert position(swap, side="long") is None
    short = position(swap, side="short")
    assert (short.side, short.quantity, short.entry_price) == ("short", D("0.02"), D("60000"))
    reconciles(account)

    order(swap, "buy", "0.020", cid="s2", position_side="short")
    assert PaperFill.objects.get(order__client_order_id="s2").realized_pnl == D("-20")
    assert swap.fetch_positions() == []
    with pytest.raises(InvalidOrder, match="ReduceOnly Order is rejected"):
        order(swap, "buy", "0.010", cid="s3", position_side="short")  # nothing left to close
    reconciles(account)


def test_contract_size_001_counts_contracts_inside_and_base_at_the_interface(swap, account):
    market = swap.market(ETH)
    assert (market.type, market.contract_size, market.step_size, market.min_qty) == (
        "swap",
        D("0.01"),
        D("0.01"),
        D("0.01"),
    )
    placed = order(swap, "buy", "0.05", symbol=ETH)
    assert (placed.amount, placed.filled) == (D("0.05"), D("0.05"))
    assert PaperOrder.objects.get(client_order_id="o1").amount == 5  # five contracts on the book
    assert [t.amount for t in swap.fetch_order_trades(symbol=ETH, client_order_id="o1")] == [D("0.05")]
    held = position(swap, ETH)
    assert (held.quantity, held.entry_price) == (D("0.05"), D("3000"))
    assert usdt(account).used == D("150")  # 0.05 ETH × 3000 at 1x
    with pytest.raises(InvalidOrder, match="LOT_SIZE"):
        order(swap, "buy", "0.055", cid="o2", symbol=ETH)  # five and a half contracts
    reconciles(account)


def test_leverage_change_refused_with_an_open_order_and_not_modified_is_success(swap, account):
    swap.set_leverage(BTC, 5)
    order(swap, "buy", "0.010", "59000")
    swap.set_leverage(BTC, 5)  # not modified: success
    with pytest.raises(InvalidOrder, match="open orders"):
        swap.set_leverage(BTC, 10)
    with pytest.raises(InvalidOrder, match="open orders"):
        swap.set_margin_mode(BTC, "cross")
    with pytest.raises(InvalidOrder, match="open orders"):
        swaps.position_mode_set(account, "hedge")
    swap.cancel_order(symbol=BTC, client_order_id="o1")
    assert (usdt(account).free, usdt(account).used) == (START, D("0"))  # the hold came back whole
    swap.set_leverage(BTC, 10)
    order(swap, "buy", "0.010", cid="o2")
    with pytest.raises(InvalidOrder, match="open position"):
        swap.set_leverage(BTC, 3)
    assert position(swap).leverage == 10
    reconciles(account)


def test_margin_is_checked_against_the_free_balance(swap, account):
    swap.set_leverage(BTC, 2)
    with pytest.raises(InsufficientFunds):
        order(swap, "buy", "0.400")  # 24000 notional needs 12000 margin
    assert not PaperOrder.objects.filter(account=account).exists()
    order(swap, "buy", "0.300")  # 18000 notional, 9000 margin
    reconciles(account)


def test_liquidation_price_from_the_maintenance_margin_tier(swap):
    swap.set_leverage(BTC, 10)
    order(swap, "buy", "0.010")
    long = position(swap)
    # margin 60 on 600, the first tier (0.40 %): (600 - 60) / (0.01 × (1 - 0.4 %)) = 54216.867…, up to the 0.1
    # tick (towards the entry)
    assert long.liquidation_price == D("54216.9")
    assert (long.mark_price, long.unrealized_pnl) == (D("60000"), D("0"))
    order(swap, "sell", "0.010", cid="o2")
    order(swap, "sell", "0.010", cid="o3")  # a short at 10x: 660 / (0.01 × 1.004) = 65737.05…, down to the tick
    short = position(swap)
    assert (short.side, short.liquidation_price, short.unrealized_pnl) == ("short", D("65737.0"), D("0"))


def test_a_swap_account_resolves_tickers_to_perpetuals_and_a_spot_account_refuses_swap_arguments(swap):
    assert swap.resolve_symbol("BTCUSDT.P") == BTC
    assert swap.resolve_symbol("BINANCE:ETHUSDT") == ETH
    spot = PaperConnector(ExchangeAccountFactory(market_type=ExchangeAccount.MarketType.SPOT))
    with pytest.raises(InvalidOrder, match="swap markets and accounts"):
        order(spot, "buy", "0.01", symbol="BTC/USDT", reduce_only=True)
    with pytest.raises(BadSymbol, match="spot account cannot trade the perpetual"):
        order(spot, "buy", "0.01", symbol=BTC)
    assert spot.resolve_symbol("BTCUSDT") == "BTC/USDT"


def test_a_swap_account_refuses_a_spot_symbol_and_places_nothing(swap, account):
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("60000"))
    for side in ("buy", "sell"):
        with pytest.raises(BadSymbol) as refused:
            order(swap, side, "0.010", symbol="BTC/USDT", cid=f"spot-{side}")
        assert str(refused.value).startswith(
            "This paper swap account trades perpetuals only, not the spot market BTC/USDT: use the perpetual "
            "BTC/USDT:USDT, or a spot account."
        )
    assert not PaperOrder.objects.filter(account=account).exists()
    balance = swap.balance()  # no coin bought or sold, no margin held
    assert (balance.free, balance.used) == ({"USDT": START}, {"USDT": 0})
    assert position(swap) is None
