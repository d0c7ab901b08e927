"""Funding in the statistics, without a database: realised with the fills and kept apart, and one payment
shared among the groups that held the position, adding up to it exactly."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from trading.stats import FillEvent, held_at, replay, split_funding

D = Decimal
T = [datetime(2024, 2, 9, hour, tzinfo=UTC) for hour in range(24)]


def test_a_closed_short_realises_its_move_less_fees_and_funding_paid():
    # Sold 0.01 BTC at 47 000, bought back at 46 000; 0.235 and 0.23 USDT of fees; paid 0.04618913 USDT funding.
    fills = [
        FillEvent(is_entry=True, quantity=D("0.01"), price=D("47000"), fee=D("0.235"), at=T[1]),
        FillEvent(is_entry=False, quantity=D("0.01"), price=D("46000"), fee=D("0.23"), at=T[10]),
    ]

    stats = replay("short", fills, funding=D("-0.04618913"))

    assert stats.realized_pnl_usd == D("10") - D("0.465") - D("0.04618913")  # 9.48881087
    assert (stats.fees_usd, stats.funding_usd, stats.held_quantity) == (D("0.465"), D("-0.04618913"), 0)


def test_funding_received_adds_to_a_long_s_realised_pnl():
    fills = [FillEvent(is_entry=True, quantity=D("2"), price=D("100"), at=T[1])]

    stats = replay("long", fills, funding=D("0.5"))

    assert (stats.realized_pnl_usd, stats.funding_usd) == (D("0.5"), D("0.5"))
    assert stats.unrealized(D("101")) == (D("2"), D("1"))  # funding is realised, never in the unrealised PnL


def test_held_at_counts_only_fills_up_to_the_payment():
    fills = [
        FillEvent(is_entry=True, quantity=D("1"), price=D("100"), at=T[1]),
        FillEvent(is_entry=True, quantity=D("2"), price=D("90"), at=T[9]),
        FillEvent(is_entry=False, quantity=D("3"), price=D("110"), at=T[17]),
    ]

    assert [held_at("long", fills, T[hour]) for hour in (0, 8, 16, 18)] == [0, 1, 3, 0]


def test_a_payment_split_by_quantity_adds_up_exactly_the_remainder_to_the_oldest():
    shares = split_funding(D("-0.04618913"), [D("0.01"), D("0.02")])

    assert shares == [D("-0.015396376667"), D("-0.030792753333")]
    assert sum(shares) == D("-0.04618913")


@pytest.mark.parametrize(
    ("amount", "weights"),
    [
        (D("1"), [D("1"), D("1"), D("1")]),
        (D("-0.000000000001"), [D("3"), D("5")]),
        (D("123.456789012345"), [D("0.3"), D("0.0001"), D("7")]),
        (D("-7"), [D("0"), D("2")]),
    ],
)
def test_shares_always_add_up_to_the_payment(amount, weights):
    shares = split_funding(amount, weights)

    assert sum(shares) == amount
    assert all(share == 0 or (share < 0) == (amount < 0) for share in shares)


def test_a_payment_finer_than_the_money_column_is_shared_as_the_column_keeps_it():
    shares = split_funding(D("-0.0000000000015"), [D("1"), D("1")])

    assert sum(shares) == D("-0.000000000002")  # 12 places, as the rows store it
    assert shares == [D("-0.000000000001"), D("-0.000000000001")]


def test_no_holder_no_share():
    assert split_funding(D("-1"), []) == []
    assert split_funding(D("-1"), [D("0"), D("0")]) == []
    with pytest.raises(ValueError):
        split_funding(D("-1"), [D("-1"), D("2")])
