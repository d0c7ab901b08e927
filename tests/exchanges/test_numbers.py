"""Numbers on the market's increments (pure): cutting to the step and tick, and how prices, quantities,
percentages and forms' plain numbers read."""

from decimal import Decimal

import pytest

from exchanges.numbers import at_increment, decimals_of, grouped, percent, plain, round_to_step, round_to_tick

D = Decimal


@pytest.mark.parametrize(
    ("increment", "places"),
    [(D("0.01"), 2), (D("0.010000000000"), 2), (D("0.5"), 1), (D("10"), 0), (D("1E+1"), 0), (D("0.00001"), 5)],
)
def test_an_increment_has_as_many_places_as_its_last_digit(increment, places):
    assert decimals_of(increment) == places


def test_a_computed_average_reads_at_the_markets_tick():
    assert at_increment(D("99.7493765586034912"), D("0.01")) == "99.75"
    assert at_increment(D("61200.000000000000"), D("0.01")) == "61,200"
    assert at_increment(D("61199.95"), D("0.1")) == "61,200"  # to the nearest, half up
    assert at_increment(D("0.000331999"), D("0.00001")) == "0.00033"


def test_a_quantity_reads_at_the_markets_step_without_trailing_zeros():
    assert at_increment(D("0.003320000000"), D("0.00001")) == "0.00332"
    assert at_increment(D("0E-12"), D("0.00001")) == "0"
    assert at_increment(D("2.010000000000"), D("0.01")) == "2.01"


def test_without_a_market_a_number_reads_as_stored_or_to_eight_significant_digits():
    assert at_increment(D("99.500000000000"), None) == "99.5"
    assert at_increment(D("99.74937655860349"), None) == "99.749377"
    assert at_increment(D("60000.123456"), None) == "60,000.123"
    assert at_increment(D("123456789.5"), None) == "123,456,790"
    assert at_increment(None, D("0.01")) == "—"


def test_forms_get_plain_numbers_never_an_exponent():
    assert plain(D("12.000000000000")) == "12"
    assert plain(D("10.000000000000").normalize()) == "10"  # normalize() alone prints 1E+1
    assert plain(D("0.100000000000")) == "0.1"
    assert plain(D("-0.000")) == "0"
    assert plain(D("0.00000001")) == "0.00000001"
    assert plain(None) == ""


def test_thousands_are_grouped_and_signs_kept():
    assert grouped(D("-1234567.5")) == "-1,234,567.5"
    assert grouped(D("999")) == "999"


def test_percentages_read_to_two_places():
    assert percent(D("2")) == "2.00%"
    assert percent(D("-0.354")) == "-0.35%"
    assert percent(D("-0.001")) == "0.00%"  # never "-0.00%"
    assert percent(D("1234.5")) == "1,234.50%"
    assert percent(None) == "—"


# --- round_to_step / round_to_tick ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "step", "down", "up"),
    [
        (D("2.0202"), D("0.001"), "2.020", "2.021"),
        (D("17"), D("5"), "15", "20"),
        (D("0.25"), D("0.5"), "0", "0.5"),
        (D("99.749377"), D("0.01"), "99.74", "99.75"),
        (D("0.0000098700"), D("0.00000001"), "0.00000987", "0.00000987"),  # already on the grid: unchanged
        (D("0.000000004"), D("0.00000001"), "0", "0.00000001"),  # under one step: nothing, or one step up
        (D("-1.5"), D("1"), "-2", "-1"),  # down is towards minus infinity, not towards zero
    ],
)
def test_a_value_is_cut_to_a_whole_number_of_steps_down_or_up(value, step, down, up):
    assert round_to_step(value, step) == D(down)
    assert round_to_step(value, step, up=True) == D(up)


def test_a_cut_value_keeps_the_steps_decimal_places_as_the_exchange_writes_them():
    assert str(round_to_step(D("2.020200000000"), D("0.001"))) == "2.020"  # a stored 12-place amount
    assert str(round_to_step(D("3"), D("0.010"))) == "3.000"
    assert str(round_to_step(D("1234"), D("10"))) == "1230"
    assert str(round_to_step(D("0.25"), D("0.5"))) == "0.0"


def test_the_cut_is_exact_beyond_the_decimal_contexts_28_digits():
    # 1 - 1e-28 over a 0.5 step is 1.999…98, 29 digits: dividing first rounded it to 2 (one step too many).
    value = D(1) - D("1e-28")
    assert round_to_step(value, D("0.5")) == D("0.5")
    assert round_to_step(value, D("0.5"), up=True) == D(1)


def test_a_price_is_cut_to_the_tick_like_any_step():
    assert round_to_tick(D("100.004"), D("0.01")) == D("100.00")
    assert round_to_tick(D("100.004"), D("0.01"), up=True) == D("100.01")
    assert round_to_tick(D("100.01"), D("0.01"), up=True) == D("100.01")
