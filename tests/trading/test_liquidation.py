"""Liquidation price and grid preview (pure, no database): worked examples computed by hand.

Model (trading.liquidation): isolated margin M = Q·A/L; maintenance margin = notional·r − c by tier
(Binance BTCUSDT: r 0.40 % to 50,000 USDT, 0.50 % with c = 50 to 500,000, …);
long  P = (Q·A − M − c) / (Q·(1 − r)),  short  P = (Q·A + M + c) / (Q·(1 + r)); fees ignored.
"""

from decimal import Decimal

import pytest

from exchanges.tiers import tier_for
from trading.grid import parse_levels
from trading.liquidation import (
    BINANCE_BTCUSDT_TIERS,
    beyond_liquidation_message,
    grid_preview,
    liquidation_price,
)

D = Decimal
CENT = D("0.01")


def liq(side, quantity, entry, leverage, margin_mode="isolated"):
    price = liquidation_price(
        side=side, quantity=D(quantity), average_entry=D(entry), leverage=leverage, margin_mode=margin_mode
    )
    return None if price is None else price.quantize(CENT)


def test_maintenance_amounts_follow_from_the_tiers():
    """c(n) = c(n−1) + floor(n)·(r(n) − r(n−1)): 50,000·0.001 = 50; 50 + 500,000·0.005 = 2,550;
    2,550 + 8,000,000·0.015 = 122,550; 122,550 + 50,000,000·0.025 = 1,372,550 (Binance's published amounts)."""
    assert [tier.amount for tier in BINANCE_BTCUSDT_TIERS] == [0, 50, 2_550, 122_550, 1_372_550]
    assert [tier.max_leverage for tier in BINANCE_BTCUSDT_TIERS] == [125, 100, 50, 20, 10]
    assert tier_for(D(49_999)).rate == D("0.004")
    assert tier_for(D(50_000)).rate == D("0.005")
    assert tier_for(D(10**9)).rate == D("0.05")


def test_long_isolated_20x():
    """1 BTC long at 10,000, 20×: M = 500, tier 1 (r 0.004, c 0).
    P = (10,000 − 500) / 0.996 = 9,538.15 — 4.6 % below the entry."""
    assert liq("long", "1", "10000", 20) == D("9538.15")


def test_short_isolated_5x():
    """1 BTC short at 10,000, 5×: M = 2,000. P = (10,000 + 2,000) / 1.004 = 11,952.19."""
    assert liq("short", "1", "10000", 5) == D("11952.19")


def test_leverage_1_long_is_never_liquidated_and_a_short_at_about_double():
    """Long 1×: P = (10,000 − 10,000) / 0.996 = 0 → no liquidation price.
    Short 1×: P = (10,000 + 10,000) / 1.004 = 19,920.32."""
    assert liq("long", "1", "10000", 1) is None
    assert liq("short", "1", "10000", 1) == D("19920.32")


def test_second_tier_for_a_larger_position():
    """10 BTC long at 10,000 (notional 100,000, tier 2: r 0.005, c 50), 20×: M = 5,000.
    P = (100,000 − 5,000 − 50) / (10 × 0.995) = 94,950 / 9.95 = 9,542.71 (tier 1 would say 9,538.15)."""
    assert liq("long", "10", "10000", 20) == D("9542.71")


def test_tier_is_the_one_at_the_liquidation_price():
    """1 BTC short at 45,000, 5× (M 9,000): tier 1 gives (45,000 + 9,000) / 1.004 = 53,784.86, a notional
    over 50,000 — so tier 2 applies there: (45,000 + 9,000 + 50) / 1.005 = 53,781.09."""
    assert liq("short", "1", "45000", 5) == D("53781.09")


def test_cross_is_estimated_as_isolated():
    """Cross margin assumes only this position's margin: the same (worst-case) price."""
    assert liq("long", "1", "10000", 20, "cross") == liq("long", "1", "10000", 20, "isolated")


TWO_LEGS = parse_levels(
    [
        {"gap_percent": 0, "weight_percent": 50, "tp_percent": 2},
        {"gap_percent": -10, "weight_percent": 50, "tp_percent": 2},
    ]
)


def preview(side, leverage, entry="100"):
    return grid_preview(side=side, entry_price=D(entry), levels=TWO_LEGS, capital=D(1000), leverage=leverage)


def test_long_grid_preview_5x_keeps_every_leg_inside():
    """Long, entry 100, capital 1,000, legs 50 % at 100 and 50 % at 90, 5×:
    leg 0: 500 / 100 = 5 base, margin 100; leg 1: 500 / 90 = 5.5556 base, margin 100.
    All filled: Q = 10.5556 (= 95/9), average = 1,000 / Q = 94.7368 (= 1,800/19), margin 200.
    P = A·(1 − 1/5) / 0.996 = 75.7895 / 0.996 = 76.09: the 90 leg is above it."""
    grid = preview("long", 5)
    assert [leg.price for leg in grid.legs] == [D(100), D(90)]
    assert [leg.quantity.quantize(D("0.0001")) for leg in grid.legs] == [D(5), D("5.5556")]
    assert [leg.notional for leg in grid.legs] == [D(500), D(500)]
    assert [leg.margin for leg in grid.legs] == [D(100), D(100)]
    assert grid.quantity.quantize(D("0.0001")) == D("10.5556")
    assert grid.average_entry.quantize(D("0.0001")) == D("94.7368")
    assert grid.margin == D(200)
    assert grid.liquidation_price.quantize(CENT) == D("76.09")
    assert not grid.last_leg_beyond_liquidation
    assert beyond_liquidation_message(grid) is None


def test_long_grid_preview_20x_puts_the_last_leg_beyond():
    """Same ladder at 20×: P = (1,800/19)·0.95 / 0.996 = 90 / 0.996 = 90.36 — the 90 leg is below it:
    with both legs filled the position is already past liquidation."""
    grid = preview("long", 20)
    assert grid.liquidation_price.quantize(CENT) == D("90.36")
    assert grid.deepest_leg.price == D(90)
    assert grid.last_leg_beyond_liquidation
    assert [leg.beyond_liquidation for leg in grid.legs] == [False, True]
    message = beyond_liquidation_message(grid)
    assert "leg 1 of a long (gap -10%, 10.00% below the entry)" in message
    assert "liquidation price, 9.64% below the entry" in message
    assert "average entry 5.26% below it, leverage 20×, isolated margin" in message


def test_short_grid_preview_5x_and_20x():
    """Short, entry 100, legs at 100 and 110 (gap −10 % is above for a short), 500 each:
    Q = 5 + 500/110 = 105/11 = 9.5455, average = 1,000 / Q = 2,200/21 = 104.7619.
    5×: P = A·1.2 / 1.004 = 125.7143 / 1.004 = 125.21 — the 110 leg is below it, inside.
    20×: P = A·1.05 / 1.004 = 110 / 1.004 = 109.56 — the 110 leg is above it: beyond."""
    five = preview("short", 5)
    assert [leg.price for leg in five.legs] == [D(100), D(110)]
    assert five.average_entry.quantize(D("0.0001")) == D("104.7619")
    assert five.liquidation_price.quantize(CENT) == D("125.21")
    assert not five.last_leg_beyond_liquidation

    twenty = preview("short", 20)
    assert twenty.liquidation_price.quantize(CENT) == D("109.56")
    assert twenty.last_leg_beyond_liquidation
    assert "leg 1 of a short (gap -10%, 10.00% above the entry)" in beyond_liquidation_message(twenty)


def test_leverage_1_long_grid_has_no_liquidation():
    grid = preview("long", 1)
    assert grid.liquidation_price is None
    assert not grid.last_leg_beyond_liquidation


def test_the_verdict_does_not_depend_on_the_entry_price():
    """Every price scales with the entry (Q·A is the capital), so the percentages are the same at 1 and at 60,000."""
    at_one, at_sixty_k = preview("long", 20, "1"), preview("long", 20, "60000")
    assert at_one.percent_from_entry(at_one.liquidation_price) == pytest.approx(
        at_sixty_k.percent_from_entry(at_sixty_k.liquidation_price)
    )
    assert at_one.last_leg_beyond_liquidation and at_sixty_k.last_leg_beyond_liquidation


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="entry price must be positive"):
        preview("long", 5, "0")
    with pytest.raises(ValueError, match="Leverage must be at least 1"):
        liquidation_price(side="long", quantity=D(1), average_entry=D(1), leverage=0)
