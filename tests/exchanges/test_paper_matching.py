"""Paper matching rules and the synthetic feed (pure)."""

from decimal import Decimal

from exchanges.paper.feeds import synthetic_next_price
from exchanges.paper.matching import fill_amount, limit_crosses, make_fill, market_fill_price

D = Decimal


def test_limit_buy_crosses_at_or_below_its_limit_and_sell_at_or_above():
    assert limit_crosses("buy", D("99.00"), D("98.50"))
    assert limit_crosses("buy", D("99.00"), D("99.00"))
    assert not limit_crosses("buy", D("99.00"), D("99.01"))
    assert limit_crosses("sell", D("102.00"), D("102.00"))
    assert not limit_crosses("sell", D("102.00"), D("101.99"))


def test_market_orders_pay_the_slippage_on_the_tick_grid():
    assert market_fill_price("buy", D("100"), D("0.05"), D("0.01")) == D("100.05")
    assert market_fill_price("sell", D("100"), D("0.05"), D("0.01")) == D("99.95")
    assert market_fill_price("buy", D("100.003"), D("0"), D("0.01")) == D("100.01")  # rounded against the trader


def test_partial_fill_ratio_fills_a_share_per_pass_never_more_than_remains():
    assert fill_amount(amount=D("2.020"), filled=D("0"), ratio=D("0.5"), step=D("0.001")) == D("1.010")
    assert fill_amount(amount=D("2.020"), filled=D("1.010"), ratio=D("0.5"), step=D("0.001")) == D("1.010")
    assert fill_amount(amount=D("2.021"), filled=D("1.010"), ratio=D("0.5"), step=D("0.001")) == D("1.010")
    assert fill_amount(amount=D("2.021"), filled=D("2.020"), ratio=D("0.5"), step=D("0.001")) == D("0.001")
    assert fill_amount(amount=D("2.020"), filled=D("0"), ratio=D("1"), step=D("0.001")) == D("2.020")


def test_buy_fee_is_taken_in_base_and_sell_fee_in_quote():
    buy = make_fill(
        side="buy", amount=D("2"), price=D("100"), base="BTC", quote="USDT", fee_percent=D("0.1"), is_maker=True
    )
    sell = make_fill(
        side="sell", amount=D("2"), price=D("100"), base="BTC", quote="USDT", fee_percent=D("0.1"), is_maker=True
    )
    assert (buy.fee, buy.fee_asset) == (D("0.002"), "BTC")
    assert (sell.fee, sell.fee_asset) == (D("0.2"), "USDT")


START_PRICE = D("100")


def walk(seed, steps=50, start=START_PRICE):
    price, path = start, []
    for step in range(steps):
        price = synthetic_next_price(
            price=price,
            seed=seed,
            exchange_id="binance",
            symbol="BTC/USDT",
            step=step,
            volatility_percent=D("0.1"),
            tick=D("0.01"),
        )
        path.append(price)
    return path


def test_synthetic_walk_is_deterministic_per_seed_and_stays_on_the_tick_grid():
    assert walk(7) == walk(7)
    assert walk(7) != walk(8)
    assert all(price == price.quantize(D("0.01")) and price > 0 for price in walk(7))
    assert len(set(walk(7))) > 10  # it moves
