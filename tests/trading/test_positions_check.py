"""trading.positions_check (pure): which exchange position a group is on, what the exchange holds of it, when
a shortfall is real whatever the order of fills and reads, which groups close, and liquidated or not."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from trading.positions_check import (
    Held,
    Unit,
    confirmed_expected,
    groups_to_close,
    held_on_exchange,
    lost_reason,
    short_of,
    unit_of,
)

D = Decimal


@dataclass(frozen=True)
class P:
    symbol: str
    side: str
    quantity: Decimal
    position_side: str | None = None


def test_a_group_is_on_its_symbols_one_position_in_one_way_mode_and_on_its_own_leg_in_hedge_mode():
    assert unit_of("BTC/USDT:USDT", "long", "one_way") == Unit("BTC/USDT:USDT", "", "long")
    assert unit_of("BTC/USDT:USDT", "short", "hedge") == Unit("BTC/USDT:USDT", "short", "short")


def test_what_the_exchange_holds_of_a_unit():
    positions = [P("X", "long", D("2"), "long"), P("X", "short", D("1"), "short"), P("Y", "long", D("7"))]
    assert held_on_exchange(positions, Unit("X", "long", "long")) == D("2")
    assert held_on_exchange(positions, Unit("X", "short", "short")) == D("1")
    assert held_on_exchange(positions, Unit("Z", "", "long")) == 0  # gone
    # One-way: a position flipped by hand to the other side holds nothing of the long.
    assert held_on_exchange([P("X", "short", D("3"))], Unit("X", "", "long")) == 0
    # Reported twice (an answer repeated): counted once.
    assert held_on_exchange([P("X", "long", D("2")), P("X", "long", D("2"))], Unit("X", "", "long")) == D("2")


def test_the_tolerance_is_one_step():
    assert not short_of(D("1.0"), D("0.9"), D("0.1"))
    assert short_of(D("1.0"), D("0.89"), D("0.1"))


T0 = datetime(2026, 1, 1, tzinfo=UTC)


def held(name: str, quantity: str, minutes: int) -> Held:
    return Held(name, D(quantity), T0 + timedelta(minutes=minutes))


def test_a_gone_position_closes_every_group_holding_something():
    groups = [held("old", "1", 0), held("new", "2", 5), held("empty", "0", 9)]
    assert [g.group_id for g in groups_to_close(groups, D(0), D("0.01"))] == ["new", "old"]


def test_a_smaller_position_closes_the_newest_first_until_the_rest_fits():
    groups = [held("a", "1", 0), held("b", "1", 1), held("c", "1", 2)]
    assert [g.group_id for g in groups_to_close(groups, D("2"), D("0.01"))] == ["c"]
    assert [g.group_id for g in groups_to_close(groups, D("1.5"), D("0.01"))] == ["c", "b"]
    assert [g.group_id for g in groups_to_close(groups, D("3"), D("0.01"))] == []


def test_liquidated_when_the_price_reached_the_last_known_liquidation_price():
    assert lost_reason("long", D("99"), D("99")) == "liquidated"
    assert lost_reason("long", D("99.1"), D("99")) == "closed_on_exchange"
    assert lost_reason("short", D("120"), D("119")) == "liquidated"
    assert lost_reason("short", D("118"), D("119")) == "closed_on_exchange"
    assert lost_reason("long", D("50"), None) == "closed_on_exchange"
    assert lost_reason("long", None, D("99")) == "closed_on_exchange"


# --- The race: fills, the engine's views and the positions read in any order -----------------------------

fills = st.lists(st.tuples(st.booleans(), st.integers(min_value=1, max_value=5)), max_size=12)


@given(fills=fills, data=st.data())
def test_no_interleaving_of_fills_and_reads_fakes_a_shortfall(fills, data):
    """The engine's view before the read (after ``seen`` fills), the read (after ``read`` ≥ seen fills), the
    re-sync (after ``resync`` ≥ read fills): the confirmed expectation never exceeds what the exchange held."""
    history, holding, exits = [(D(0), D(0))], D(0), D(0)
    for is_entry, quantity in fills:
        if is_entry:
            holding += quantity
        else:
            closed = min(D(quantity), holding)  # a take-profit sells what is held
            holding, exits = holding - closed, exits + closed
        history.append((holding, exits))
    seen = data.draw(st.integers(min_value=0, max_value=len(fills)))
    read = data.draw(st.integers(min_value=seen, max_value=len(fills)))
    resync = data.draw(st.integers(min_value=read, max_value=len(fills)))
    held_before, exits_before = history[seen]
    on_exchange = history[read][0]
    expected = confirmed_expected(held_before, exits_before, history[resync][1])
    assert not short_of(expected, on_exchange, D(0))


@given(fills=fills, lost=st.integers(min_value=1, max_value=5), data=st.data())
def test_a_position_closed_by_hand_with_no_exit_fill_in_between_is_always_seen(fills, lost, data):
    holding = D(0)
    for is_entry, quantity in fills:
        holding = holding + quantity if is_entry else max(holding - quantity, D(0))
    taken = min(D(lost), holding)
    if not taken:
        return
    expected = confirmed_expected(holding, D(7), D(7))  # nothing filled between the views
    assert short_of(expected, holding - taken, D(0))


def test_fresh_entry_fills_do_not_count_until_a_positions_answer_can_hold_them():
    assert confirmed_expected(D("10"), D("0"), D("0"), fresh_entries=D("10")) == 0
    assert confirmed_expected(D("10"), D("0"), D("4"), fresh_entries=D("3")) == D("3")
    assert confirmed_expected(D("2"), D("0"), D("4")) == 0  # never below nothing
