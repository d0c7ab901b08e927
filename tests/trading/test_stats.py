"""Position statistics replay (pure)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from trading.stats import FillEvent, replay

D = Decimal
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(minutes):
    return T0 + timedelta(minutes=minutes)


def test_weighted_average_over_dca_legs_and_aggregate_close():
    # Reference aggregate example: legs at 100 and 98 → avg 99.00; closing 2.0 at 102 realises 6.00.
    stats = replay("long", [FillEvent(True, D("1"), D("100"), at=at(0)), FillEvent(True, D("1"), D("98"), at=at(1))])
    assert stats.weighted_avg_entry == D("99")
    assert (stats.held_quantity, stats.invested_usd) == (D("2"), D("198"))
    assert stats.unrealized(D("102")) == (D("6"), D("6") / D("198") * 100)

    closed = replay(
        "long",
        [
            FillEvent(True, D("1"), D("100"), at=at(0)),
            FillEvent(True, D("1"), D("98"), at=at(1)),
            FillEvent(False, D("2"), D("102"), at=at(2)),
        ],
    )
    assert (closed.held_quantity, closed.realized_pnl_usd) == (D("0"), D("6"))


def test_fills_are_replayed_in_fill_order_not_list_order():
    events = [FillEvent(False, D("1"), D("110"), at=at(5)), FillEvent(True, D("1"), D("100"), at=at(0))]
    assert replay("long", events).realized_pnl_usd == D("10")


def test_short_profits_when_price_falls():
    stats = replay("short", [FillEvent(True, D("2"), D("100"), at=at(0)), FillEvent(False, D("1"), D("95"), at=at(1))])
    assert (stats.held_quantity, stats.realized_pnl_usd) == (D("1"), D("5"))
    assert stats.unrealized(D("90"))[0] == D("10")


def test_base_currency_fee_reduces_the_holding_and_is_a_realised_cost():
    stats = replay("long", [FillEvent(True, D("2.000"), D("100"), fee=D("0.002"), fee_in_base=True, at=at(0))])
    assert stats.held_quantity == D("1.998")
    assert stats.weighted_avg_entry == D("100")
    assert stats.fees_usd == D("0.200") and stats.realized_pnl_usd == D("-0.200")


def test_exit_never_sells_more_than_is_held():
    stats = replay("long", [FillEvent(True, D("1"), D("100"), at=at(0)), FillEvent(False, D("3"), D("110"), at=at(1))])
    assert (stats.held_quantity, stats.closed_quantity, stats.realized_pnl_usd) == (D("0"), D("1"), D("10"))


def test_partial_exit_keeps_the_average_and_a_new_entry_moves_it():
    stats = replay(
        "long",
        [
            FillEvent(True, D("2"), D("100"), at=at(0)),
            FillEvent(False, D("1"), D("104"), at=at(1)),
            FillEvent(True, D("1"), D("90"), at=at(2)),
        ],
    )
    assert stats.weighted_avg_entry == D("95")
    assert stats.realized_pnl_usd == D("4")
    assert stats.held_quantity == D("2")


def test_nothing_filled_is_all_zero():
    stats = replay("long", [])
    assert (stats.held_quantity, stats.weighted_avg_entry, stats.unrealized(D("100"))) == (
        D("0"),
        None,
        (D("0"), D("0")),
    )


def test_an_exit_beyond_what_is_held_is_reported_as_an_over_sell_never_hidden():
    # Row 15: the replay used to cap a sell at the holding, so 20.2 sold for 10.1 looked like a clean close.
    stats = replay(
        "long",
        [
            FillEvent(True, D("10.1"), D("100"), at=at(0)),
            FillEvent(False, D("10.1"), D("99"), at=at(1)),
            FillEvent(False, D("10.1"), D("98"), at=at(2)),
        ],
    )
    assert (stats.held_quantity, stats.closed_quantity, stats.oversold_quantity) == (D("0"), D("10.1"), D("10.1"))
    clean = replay("long", [FillEvent(True, D("1"), D("100"), at=at(0)), FillEvent(False, D("1"), D("101"), at=at(1))])
    assert clean.oversold_quantity == 0
