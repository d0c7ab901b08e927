"""Grid maths (pure): the reference walkthrough comes out exactly."""

from decimal import Decimal

import pytest

from tests.factories import WALKTHROUGH_LEVELS
from trading.grid import (
    GridError,
    Precision,
    capital_for_signal,
    leg_price,
    parse_levels,
    plan_grid,
    sellable,
    take_profit_price,
)

D = Decimal
WALKTHROUGH = Precision(tick_size=D("0.01"), step_size=D("0.001"), min_qty=D("0.001"), min_notional=D("10"))


def walkthrough_grid(side: str):
    return plan_grid(
        side=side,
        base_price=D("100"),
        levels=parse_levels(WALKTHROUGH_LEVELS),
        capital=D("1000"),
        precision=WALKTHROUGH,
    )


def test_reference_walkthrough_long_grid():
    legs = walkthrough_grid("long")

    assert [leg.price for leg in legs] == [D("100.00"), D("99.50"), D("99.00"), D("98.50"), D("98.00")]
    assert [leg.quantity for leg in legs] == [D("2.000"), D("2.010"), D("2.020"), D("2.030"), D("2.040")]
    assert [leg.tp_price for leg in legs] == [D("102.00"), D("101.49"), D("100.98"), D("100.47"), D("99.96")]
    assert [leg.notional for leg in legs] == [
        D("200.00000"),
        D("199.99500"),
        D("199.98000"),
        D("199.95500"),
        D("199.92000"),
    ]


def test_short_grid_mirrors_above_the_entry_and_takes_profit_below():
    legs = walkthrough_grid("short")

    assert [leg.price for leg in legs] == [D("100.00"), D("100.50"), D("101.00"), D("101.50"), D("102.00")]
    assert [leg.quantity for leg in legs] == [D("2.000"), D("1.990"), D("1.980"), D("1.970"), D("1.960")]
    assert [leg.tp_price for leg in legs] == [D("98.00"), D("98.49"), D("98.98"), D("99.47"), D("99.96")]


def test_buy_prices_and_quantities_round_down_and_sell_prices_up_to_tick_and_step():
    levels = parse_levels([{"gap_percent": "-0.333", "weight_percent": 100, "tp_percent": "1.234"}])
    [leg] = plan_grid(
        side="long",
        base_price=D("60123.45"),
        levels=levels,
        capital=D("777"),
        precision=Precision(D("0.1"), D("0.00001")),
    )

    assert leg.price == D("59923.2")  # 59923.238… rounded down to 0.1
    assert leg.quantity == D("0.01296")  # 0.0129665… rounded down to 0.00001
    assert leg.tp_price == D("60662.7")  # 60662.652… a sell: rounded up


@pytest.mark.parametrize(
    "precision,limit",
    [
        (Precision(D("0.01"), D("0.001"), min_qty=D("3")), "minimum 3"),
        (Precision(D("0.01"), D("0.001"), min_notional=D("250")), "minimum 250"),
    ],
)
def test_legs_below_exchange_minimums_are_refused_naming_the_leg(precision, limit):
    with pytest.raises(GridError, match=f"Leg 0: .*{limit}"):
        plan_grid(
            side="long",
            base_price=D("100"),
            levels=parse_levels(WALKTHROUGH_LEVELS),
            capital=D("1000"),
            precision=precision,
        )


def test_take_profit_from_the_actual_fill():
    assert take_profit_price("long", D("99.37"), D("2"), D("0.01")) == D("101.36")  # 101.3574, a sell: up
    assert take_profit_price("short", D("100.63"), D("2"), D("0.01")) == D("98.61")


def test_capital_from_the_signal_size():
    common = {"capital_usd": D("1000"), "entry_price": D("50")}
    assert capital_for_signal(use_signal_size=False, order_size=D("3"), size_type="base", **common) == D("1000")
    assert capital_for_signal(use_signal_size=True, order_size=D("3"), size_type="base", **common) == D("150")
    assert capital_for_signal(use_signal_size=True, order_size=D("3"), size_type="contracts", **common) == D("150")
    assert capital_for_signal(use_signal_size=True, order_size=D("400"), size_type="quote", **common) == D("400")
    assert capital_for_signal(use_signal_size=True, order_size=None, size_type="quote", **common) == D("1000")


def test_prices_round_to_the_traders_safe_side_and_a_take_profit_is_never_at_its_fill():
    # Row 11: at tick 1e-8 a 0.1 % target on 0.00000987 is 0.0000098798…; rounded down it was the fill.
    tick = D("0.00000001")
    assert take_profit_price("long", D("0.00000987"), D("0.1"), tick) == D("0.00000988")
    assert take_profit_price("short", D("0.00000987"), D("0.1"), tick) == D("0.00000986")
    for fill in (D("0.00000987"), D("1.00000001"), D("99.99"), D("60000")):
        for percent in (D("0.01"), D("0.1"), D("2")):
            assert take_profit_price("long", fill, percent, D("0.01") if fill > 1 else tick) > fill
            assert take_profit_price("short", fill, percent, D("0.01") if fill > 1 else tick) < fill
    # Entry legs: a long buys (down), a short sells (up).
    assert leg_price("long", D("100.005"), D("0"), D("0.01")) == D("100.00")
    assert leg_price("short", D("100.005"), D("0"), D("0.01")) == D("100.01")


def test_sellable_is_what_one_order_can_close_and_zero_for_dust():
    market = {"step": D("0.00001"), "min_qty": D("0.00001"), "min_notional": D("5")}
    assert sellable(D("0.0166788"), price=D("60000"), **market) == D("0.01667")
    assert sellable(D("0.0000399"), price=D("60000"), **market) == 0  # 2.39 USDT: under the 5 USDT notional
    assert sellable(D("0.000009"), price=None, **market) == 0  # under one step
    assert sellable(D("-1"), price=D("1"), **market) == 0
