"""How numbers read (pure): prices at the tick, quantities at the step, percentages, forms' plain numbers."""

from decimal import Decimal

import pytest

from exchanges.numbers import at_increment, decimals_of, grouped, percent, plain

D = Decimal


@pytest.mark.parametrize(("increment", "places"), [(D("0.01"), 2), (D("0.010000000000"), 2), (D("0.5"), 1),
                                                   (D("10"), 0), (D("1E+1"), 0), (D("0.00001"), 5)])
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
