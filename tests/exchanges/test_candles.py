"""Candles as plain values: built from prices, merged into longer intervals, chosen for a position's chart
(pure, no database)."""

from decimal import Decimal

import pytest

from exchanges.candles import (
    Candle,
    ChartWindow,
    candle_tick,
    chart_window,
    recorded_intervals,
    resample,
    timeframe_code,
    timeframe_minutes,
)

D = Decimal
HOUR = 3600
DAY = 86_400


def test_prices_within_a_minute_make_one_candle_and_the_next_minute_finishes_it():
    forming, done = candle_tick(None, at_seconds=600, price=D("100"))
    forming, done = candle_tick(forming, at_seconds=615, price=D("101.5"))
    forming, done = candle_tick(forming, at_seconds=640, price=D("99"))
    assert done is None
    forming, done = candle_tick(forming, at_seconds=662, price=D("99.5"))

    assert done == Candle(600, D("100"), D("101.5"), D("99"), D("99"))
    assert forming == Candle(660, D("99.5"), D("99.5"), D("99.5"), D("99.5"))


def test_a_late_price_leaves_the_forming_candle_as_it_is():
    forming = Candle(660, D("99.5"), D("99.5"), D("99.5"), D("99.5"))

    assert candle_tick(forming, at_seconds=650, price=D("120")) == (forming, None)


def test_one_minute_candles_merge_into_fifteen_minute_candles():
    minutes = [Candle(900 * 4 + 60 * i, D(100 + i), D(100 + i) + 2, D(100 + i) - 1, D(100 + i) + 1) for i in range(20)]

    merged = resample(minutes, 15)

    assert [c.opened_at for c in merged] == [3600, 4500]
    first = merged[0]
    assert (first.open, first.high, first.low, first.close) == (D(100), D(116), D(99), D(115))
    assert merged[1].open == D(115) and merged[1].close == D(120)


@pytest.mark.parametrize(
    ("minutes", "code"), [(1, "1m"), (15, "15m"), (60, "1h"), (240, "4h"), (1440, "1d"), (10080, "1w"), (43200, "1M")]
)
def test_intervals_have_ccxts_names(minutes, code):
    assert timeframe_code(minutes) == code
    assert timeframe_minutes(code) == minutes


def test_a_code_in_seconds_is_not_an_interval_the_chart_uses():
    assert timeframe_minutes("1s") is None and timeframe_minutes("h") is None


BINANCE = [1, 3, 5, 15, 30, 60, 120, 240, 360, 480, 720, 1440, 4320, 10080, 43200]


def test_an_open_position_shows_its_own_timeframe_from_100_candles_before_its_opening():
    opened = 100 * DAY + 10 * HOUR + 7 * 60  # 10:07
    window = chart_window(
        timeframe_minutes=15, opened_at=opened, closed_at=None, now=opened + 2 * HOUR, supported=BINANCE
    )

    assert window.interval_minutes == 15 and not window.closed
    assert window.start == 100 * DAY + 10 * HOUR - 100 * 900  # the 10:00 candle, 100 candles back
    assert window.end == 100 * DAY + 12 * HOUR  # the forming 12:00 candle
    assert window.count == 100 + 9


def test_a_timeframe_the_exchange_does_not_serve_uses_the_longest_served_below_it():
    window = chart_window(timeframe_minutes=45, opened_at=DAY, closed_at=None, now=DAY + HOUR, supported=BINANCE)

    assert window.interval_minutes == 30


def test_a_long_life_steps_up_to_longer_candles_to_stay_within_1000():
    opened = 100 * DAY
    window = chart_window(
        timeframe_minutes=15, opened_at=opened, closed_at=None, now=opened + 30 * DAY, supported=BINANCE
    )

    assert window.interval_minutes == 60  # 30 days of 15m are 2,880 candles; of 1h, 820
    assert window.count <= 1000


def test_a_closed_position_ends_ten_candles_after_its_close_and_is_final_once_they_are_past():
    opened, closed = 100 * DAY, 100 * DAY + 5 * HOUR
    window = chart_window(timeframe_minutes=15, opened_at=opened, closed_at=closed, now=closed + DAY, supported=BINANCE)

    assert window.end == closed + 10 * 900 and window.closed
    recent = chart_window(
        timeframe_minutes=15, opened_at=opened, closed_at=closed, now=closed + 1000, supported=BINANCE
    )
    assert recent.end == closed + 900 and not recent.closed  # the candles after the close are still coming


def test_no_served_interval_means_no_chart():
    assert chart_window(timeframe_minutes=15, opened_at=0, closed_at=None, now=HOUR, supported=[]) is None


def test_a_short_price_record_is_drawn_in_shorter_candles():
    # 3 hours of record: 180 one-minute candles, 36 of 5 minutes, 12 of 15 minutes
    assert recorded_intervals(180, min_candles=30) == [1, 3, 5]
    assert recorded_intervals(5, min_candles=30) == [1]
    window = chart_window(
        timeframe_minutes=15,
        opened_at=DAY,
        closed_at=None,
        now=DAY + 600,
        supported=recorded_intervals(180, min_candles=30),
    )
    assert window.interval_minutes == 5


def test_a_window_counts_its_candles():
    assert ChartWindow(15, 0, 900 * 9, False).count == 10
