"""Take-profit and stop triggers, the reference's worked examples (pure)."""

from decimal import Decimal

from trading.take_profit import (
    PyramidHolding,
    aggregate_target,
    position_exit_trigger,
    protected_limit,
    pyramids_to_close,
    slippage_percent,
    trigger_fires,
)

D = Decimal


def exit_trigger(price, *, side="long", tp_mode="aggregate", stop_loss_percent=None, stop_loss_price=None, **held):
    """``position_exit_trigger`` at ``price``, long on the aggregate target and without a stop unless told."""
    return position_exit_trigger(
        side=side,
        tp_mode=tp_mode,
        price=price,
        stop_loss_percent=stop_loss_percent,
        stop_loss_price=stop_loss_price,
        **held,
    )


def test_reference_aggregate_example_target_101_97():
    assert aggregate_target("long", D("99.00"), D("3")) == D("101.97")
    held = {"average": D("99"), "held": D("2"), "tp_aggregate_percent": D("3")}
    assert exit_trigger(D("102"), **held).reason == "aggregate_tp"
    assert exit_trigger(D("101.96"), **held) is None


def test_per_leg_mode_never_closes_on_the_aggregate_target():
    assert exit_trigger(D("200"), tp_mode="per_leg", average=D("99"), held=D("2"), tp_aggregate_percent=D("3")) is None


def test_hybrid_scenario_b_aggregate_target_after_leg_0_exit():
    # Legs 1 and 2 left at 98 and 96: average 97, 5 % → 101.85; a jump to 103 closes everything.
    assert aggregate_target("long", D("97"), D("5")) == D("101.85")
    trigger = exit_trigger(D("103"), tp_mode="hybrid", average=D("97"), held=D("2"), tp_aggregate_percent=D("5"))
    assert trigger.reason == "aggregate_tp"


def test_stop_loss_from_percent_and_from_the_signal_price_checked_before_take_profit():
    held = {"average": D("100"), "held": D("1"), "tp_aggregate_percent": D("3")}
    assert exit_trigger(D("95"), stop_loss_percent=D("5"), **held).reason == "stop_loss"
    assert exit_trigger(D("95.01"), stop_loss_percent=D("5"), **held) is None
    assert exit_trigger(D("97"), stop_loss_price=D("97.5"), **held).reason == "stop_loss"


def test_short_side_mirrors_the_targets():
    assert aggregate_target("short", D("100"), D("3")) == D("97")
    held = {"average": D("100"), "held": D("1"), "tp_aggregate_percent": D("3")}
    assert exit_trigger(D("106"), side="short", stop_loss_percent=D("5"), **held).reason == "stop_loss"


def test_reference_pyramid_aggregate_example_closes_pyramids_separately():
    pyramids = [
        PyramidHolding(0, D("100"), D("1"), D("2")),
        PyramidHolding(1, D("95"), D("1"), D("2.5")),
        PyramidHolding(2, D("90"), D("1"), D("3")),
    ]
    assert [aggregate_target("long", p.average, p.tp_percent) for p in pyramids] == [D("102"), D("97.375"), D("92.70")]
    assert pyramids_to_close("long", D("93"), pyramids) == [2]
    assert pyramids_to_close("long", D("98"), pyramids[:2]) == [1]
    assert pyramids_to_close("long", D("102"), pyramids[:1]) == [0]


def test_market_trigger_and_slippage():
    assert trigger_fires("buy", D("99.99"), D("100")) and not trigger_fires("buy", D("100.01"), D("100"))
    assert trigger_fires("sell", D("100"), D("100"))
    assert slippage_percent("buy", D("100"), D("100.6")) == D("0.6")
    assert slippage_percent("sell", D("100"), D("100.6")) == D("-0.6")
    assert protected_limit("buy", D("100"), D("0.5")) == D("100.5")
    assert protected_limit("sell", D("100"), D("0.5")) == D("99.5")
