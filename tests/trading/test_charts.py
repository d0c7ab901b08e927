"""The dashboard's chart geometry (pure, no database)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from trading.charts import PNL_PLOT_LEFT, Fill, fill_markers, nice_step, pnl_chart, value_label

D = Decimal


def test_fills_are_marked_on_the_candle_they_happened_in():
    # Given 15-minute candles at 10:00, 10:15 and 10:30 (epoch seconds) and fills at 10:07, 10:29 and 10:44
    ten = 36_000
    candles = [ten, ten + 900, ten + 1800]
    fills = [
        Fill(ten + 1740, "sell", "take-profit", "TP"),
        Fill(ten + 420, "buy", "entry", "L1"),
        Fill(ten + 2640, "sell", "exit", "exit"),
    ]

    markers, outside = fill_markers(fills, candles, 15)

    # Then each marker sits on its candle, oldest first
    assert [(m.time, m.text) for m in markers] == [(ten, "L1"), (ten + 900, "TP"), (ten + 1800, "exit")]
    assert outside == 0


def test_fills_outside_the_candles_shown_are_counted_not_drawn():
    ten = 36_000
    markers, outside = fill_markers(
        [Fill(ten - 60, "buy", "entry", "L1"), Fill(ten + 1000, "buy", "entry", "L2")], [ten], 15
    )

    assert markers == [] and outside == 2


def test_pnl_chart_puts_profits_above_and_losses_below_zero_on_a_round_value_axis():
    chart = pnl_chart([(date(2026, 1, 1), D("30")), (date(2026, 1, 3), D("-10"))], width=720, height=240)

    # plot from y=24 (top) to y=212 (bottom): -10 … 30 in steps of 10, 47 units each
    assert [(tick.at, tick.label) for tick in chart.value_ticks] == [
        (D("212.00"), "-10"),
        (D("165.00"), "0"),
        (D("118.00"), "10"),
        (D("71.00"), "20"),
        (D("24.00"), "30"),
    ]
    assert chart.zero_y == D("165.00")
    profit, flat, loss = chart.periods
    assert (profit.y, profit.height) == (D("24.00"), D("141.00"))  # from 30 down to zero
    assert flat.height == 0 and flat.start == date(2026, 1, 2)  # a day without a close is a day of zero
    assert (loss.y, loss.height) == (D("165.00"), D("47.00"))  # from zero down to -10
    assert profit.x < flat.x < loss.x and profit.width == flat.width


def test_pnl_chart_draws_the_running_total_from_zero():
    chart = pnl_chart([(date(2026, 1, 1), D("30")), (date(2026, 1, 1), D("5")), (date(2026, 1, 3), D("-10"))])

    assert [period.pnl_usd for period in chart.periods] == [D("35"), D("0"), D("-10")]  # same-day closes add up
    assert [period.cumulative_usd for period in chart.periods] == [D("35"), D("35"), D("25")]
    assert chart.total_usd == D("25")
    points = chart.line_points.split()
    assert points[0] == f"{PNL_PLOT_LEFT},{chart.zero_y}"
    assert len(points) == 4 and points[-1] == f"{chart.periods[-1].line_x},{chart.periods[-1].line_y}"
    # the running total never leaves the plot: the axis covers it as well as the bars
    top, bottom = chart.plot_top, chart.plot_bottom
    assert all(top <= period.line_y <= bottom for period in chart.periods)


def test_pnl_chart_spans_the_asked_days_even_without_closes():
    chart = pnl_chart([], first=date(2026, 1, 1), last=date(2026, 1, 30))

    assert len(chart.periods) == 30 and chart.total_usd == 0
    assert [tick.label for tick in chart.value_ticks] == ["0", "1"]
    assert len(chart.date_ticks) <= 8 and chart.date_ticks[0].label == "Jan 1"
    assert pnl_chart([]) is None


@pytest.mark.parametrize(
    ("days", "bucket", "periods"), [(62, "day", 62), (63, "week", 9), (731, "week", 105), (800, "month", 27)]
)
def test_long_ranges_are_drawn_per_week_or_month(days, bucket, periods):
    first = date(2024, 1, 1)  # a Monday
    last = first + timedelta(days=days - 1)

    chart = pnl_chart([(first, D("1")), (last, D("2"))])

    assert (chart.bucket, len(chart.periods)) == (bucket, periods)
    assert chart.total_usd == D("3") and chart.periods[-1].pnl_usd == D("2")
    assert len(chart.date_ticks) <= 8


@pytest.mark.parametrize(
    ("span", "step"),
    [
        (D("40"), D("10")),
        (D("7"), D("2")),
        (D("0.0003"), D("0.0001")),
        (D("12345"), D("5000")),
        (D("1"), D("0.2")),
        (D("0"), D("1")),
    ],
)
def test_value_steps_are_one_two_or_five_times_a_power_of_ten(span, step):
    assert nice_step(span) == step


def test_value_labels_carry_the_places_their_step_needs():
    assert value_label(D("-1500"), D("500")) == "-1,500"
    assert value_label(D("0.25"), D("0.05")) == "0.25"
    assert value_label(D("0"), D("0.0001")) == "0"
