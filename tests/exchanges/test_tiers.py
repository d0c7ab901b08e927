"""Leverage and maintenance-margin tiers (exchanges.tiers, pure): the cap a grid's notional gets, and a table
rebuilt from the cache."""

from decimal import Decimal

from exchanges.tiers import BINANCE_BTCUSDT_TIERS, capped_leverage, maintenance_margin, margin_tiers, tiers_from_json
from trading.liquidation import leverage_for_grid

D = Decimal


def test_the_cap_is_the_tier_holding_the_notional():
    assert capped_leverage(20, D("49999"), BINANCE_BTCUSDT_TIERS) == 20  # under every cap
    assert capped_leverage(125, D("49999"), BINANCE_BTCUSDT_TIERS) == 125
    assert capped_leverage(125, D("50000"), BINANCE_BTCUSDT_TIERS) == 100  # the second tier starts at its floor
    assert capped_leverage(125, D("9000000"), BINANCE_BTCUSDT_TIERS) == 20
    assert capped_leverage(125, D("10") ** 12, BINANCE_BTCUSDT_TIERS) == 10  # beyond the table: its last tier


def test_rows_in_any_order_give_continuous_maintenance_margin():
    tiers = margin_tiers((50_000, 100, "0.005"), (0, 125, "0.004"))
    assert [(t.floor, t.amount) for t in tiers] == [(D(0), D(0)), (D(50000), D(50))]
    # At the boundary both tiers give the same margin: 50,000 × 0.004 = 50,000 × 0.005 − 50 = 200.
    assert maintenance_margin(D(50000), tiers) == D(200) == tiers[0].maintenance_margin(D(50000))


def test_a_table_from_the_cache_is_the_same_table():
    assert tiers_from_json([t.as_json() for t in BINANCE_BTCUSDT_TIERS]) == BINANCE_BTCUSDT_TIERS


def test_the_leverage_choice_says_why():
    capped = leverage_for_grid(configured=125, notional=D("59960.004"), quote="USDT", tiers=BINANCE_BTCUSDT_TIERS)
    kept = leverage_for_grid(configured=10, notional=D("59960"), quote="USDT", tiers=BINANCE_BTCUSDT_TIERS)
    unknown = leverage_for_grid(configured=125, notional=D("59960"), quote="USDT", tiers=None, unavailable="timeout")

    assert (capped.leverage, capped.capped) == (100, True)
    assert capped.note == (
        "leverage 100× instead of the configured 125×: the exchange allows at most 100× for the grid's full "
        "notional of 59960 USDT"
    )
    assert (kept.leverage, kept.note) == (10, "")
    assert unknown.leverage == 125
    assert unknown.note == "leverage 125× as configured, not checked against the exchange's leverage tiers (timeout)"
