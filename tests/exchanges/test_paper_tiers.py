"""The paper exchange liquidates, values maintenance margin and caps leverage by the tier table it publishes
(``fetch_leverage_tiers``: Binance USDⓈ-M BTCUSDT's), so the engine's preview is what the paper exchange does.

Tiers (notional in USDT): to 50,000 125× 0.40 %; to 500,000 100× 0.50 % (amount 50); to 8,000,000 50× 1 %
(2,550); to 50,000,000 20× 2.5 % (122,550).
"""

from decimal import Decimal

import pytest

from exchanges.connector import InvalidOrder
from exchanges.models import PaperBalance, PaperFill, PaperOrder
from exchanges.numbers import round_to_tick
from exchanges.paper.connector import PaperConnector
from exchanges.paper.services import paper_price_set
from exchanges.tiers import tier_for
from tests.factories import ExchangeAccountFactory
from trading.liquidation import liquidation_price

pytestmark = pytest.mark.django_db
D = Decimal
BTC = "BTC/USDT:USDT"  # shipped: contracts of 0.001 BTC, tick 0.1
TICK = D("0.1")
ENTRY = D("60000")
RICH = D("2000000")  # enough for 150 BTC at 10x
EXCEEDED = "Exceeded the maximum allowable position at current leverage."


def connect(start=RICH, mode="isolated", leverage=10):
    account = ExchangeAccountFactory(
        market_type="swap",
        starting_balance=start,
        maker_fee_percent=D("0.02"),
        taker_fee_percent=D("0.05"),
        market_slippage_percent=D("0"),
    )
    connector = PaperConnector(account)
    connector.load_markets()
    paper_price_set(exchange_id="binance", symbol=BTC, price=ENTRY)
    connector.set_margin_mode(BTC, mode, leverage=leverage)
    return account, connector


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


def price(value):
    return paper_price_set(exchange_id="binance", symbol=BTC, price=D(value))


@pytest.mark.parametrize(
    "side, amount, leverage, tier_at_liquidation",
    [
        ("long", "0.5", 20, 0),  # 30,000 notional: the first tier throughout
        ("long", "0.9", 10, 0),  # 54,000 at entry (second tier), 48,8xx at its liquidation price (first)
        ("long", "1", 50, 1),  # 60,000: the second tier
        ("long", "10", 20, 2),  # 600,000: the third (1 %, amount 2,550)
        ("long", "150", 10, 3),  # 9,000,000: the fourth (2.5 %, amount 122,550)
        ("short", "0.8", 10, 1),  # 48,000 at entry (first tier), 52,6xx at its liquidation price (second)
        ("short", "10", 20, 2),
    ],
)
def test_an_isolated_positions_paper_liquidation_price_is_the_engines_estimate(
    side, amount, leverage, tier_at_liquidation
):
    account, swap = connect(leverage=leverage)
    order(swap, "buy" if side == "long" else "sell", amount)
    tiers = swap.fetch_leverage_tiers(BTC)  # what the engine reads for its preview and leverage cap
    estimate = liquidation_price(
        side=side, quantity=D(amount), average_entry=ENTRY, leverage=leverage, margin_mode="isolated", tiers=tiers
    )
    assert tiers.index(tier_for(D(amount) * estimate, tiers)) == tier_at_liquidation

    [position] = swap.fetch_positions([BTC])

    expected = round_to_tick(estimate, TICK, up=side == "long")  # on the tick towards the entry
    assert position.liquidation_price == expected

    # And the paper exchange does liquidate there: not a tick before, at it whatever the price jumps to.
    before, beyond = (expected + TICK, expected - 1000) if side == "long" else (expected - TICK, expected + 1000)
    assert price(before).liquidated == 0
    assert price(beyond).liquidated == 1
    [autoclose] = PaperOrder.objects.filter(account=account, client_order_id__startswith="autoclose-")
    assert (autoclose.average, autoclose.filled * D("0.001")) == (expected, D(amount))
    fill = PaperFill.objects.get(order=autoclose)
    assert fill.realized_pnl - fill.fee == -D(amount) * ENTRY / leverage  # isolated: the margin, never more


def test_margin_ratio_counts_the_tiered_maintenance_margin():
    # 10 BTC at 60,000 (600,000: the third tier) at 20x, isolated: maintenance 600,000 × 1 % − 2,550 = 3,450
    # against the margin of 30,000.
    _, swap = connect(leverage=20)
    order(swap, "buy", "10")
    [position] = swap.fetch_positions([BTC])
    assert position.margin_ratio == D("3450") / D("30000")


def test_a_cross_position_is_liquidated_by_the_tier_at_its_liquidation_price():
    # 10 BTC long at 60,000, 20x, cross, 40,000 USDT: free 40,000 − 30,000 margin − 300 fee = 9,700, so 39,700
    # stands behind it. P = (600,000 − 39,700 − 2,550) / (10 × 0.99) = 56,338.38…, notional 563,384 (third tier).
    account, swap = connect(start=D("40000"), mode="cross", leverage=20)
    order(swap, "buy", "10")
    [position] = swap.fetch_positions([BTC])
    assert position.liquidation_price == D("56338.4")
    assert price("56338.5").liquidated == 0
    assert price("50000").liquidated == 1
    fill = PaperFill.objects.get(order__account=account, order__client_order_id__startswith="autoclose-")
    # lost: the loss at 56,338.4 (36,616) plus the maintenance margin there (563,384 × 1 % − 2,550 = 3,083.84),
    # within margin + free (39,700): 0.16 is left
    assert (fill.realized_pnl, fill.fee) == (D("-36616"), D("3083.84"))
    row = PaperBalance.objects.get(account=account, asset="USDT")
    assert (row.free, row.used) == (D("0.16"), D("0"))


def test_an_order_beyond_the_tiers_maximum_leverage_is_refused_like_binance():
    account, swap = connect(leverage=125)
    order(swap, "buy", "0.8")  # 48,000: the first tier allows 125x
    with pytest.raises(InvalidOrder, match=EXCEEDED):
        order(swap, "buy", "0.05", "59000", cid="o2")  # 48,000 + 2,950: the second tier, at most 100x
    with pytest.raises(InvalidOrder, match=EXCEEDED):
        order(swap, "buy", "1", cid="o3")  # a market order alike
    assert not PaperOrder.objects.filter(account=account, client_order_id__in=["o2", "o3"]).exists()
    order(swap, "buy", "0.03", "59000", cid="o4")  # 49,770: still the first tier
    with pytest.raises(InvalidOrder, match=EXCEEDED):
        order(swap, "buy", "0.01", "59000", cid="o5")  # the resting 0.03 counts: 50,360
    order(swap, "sell", "0.5", "61000", cid="tp", reduce_only=True)  # closing is never refused
    [position] = swap.fetch_positions([BTC])
    assert position.quantity == D("0.8")


def test_a_short_is_capped_on_its_own_side_and_a_lower_leverage_allows_more():
    _, swap = connect(leverage=100)
    order(swap, "sell", "8")  # 480,000: the second tier allows 100x
    order(swap, "buy", "0.5", "59000", cid="low")  # a buy in one-way mode reduces the short: not counted
    with pytest.raises(InvalidOrder, match=EXCEEDED):
        order(swap, "sell", "0.4", "61000", cid="o2")  # 480,000 + 24,400: the third tier, at most 50x
    _, lower = connect(leverage=50)
    order(lower, "sell", "8")
    order(lower, "sell", "0.4", "61000", cid="o2")
    assert len(lower.fetch_open_orders(BTC)) == 1
