"""The dashboard's chart geometry (pure, no database)."""

from decimal import Decimal

from trading.charts import Fill, fill_markers, pnl_bars


def test_pnl_bars_put_profits_above_and_losses_below_the_zero_line():
    bars, zero = pnl_bars([("d1", Decimal("30")), ("d2", Decimal(0)), ("d3", Decimal("-10"))], chart_height=100)

    assert zero == Decimal("75")
    assert (bars[0].y, bars[0].height) == (Decimal(0), Decimal("75"))
    assert bars[1].height == 0
    assert (bars[2].y, bars[2].height) == (Decimal("75"), Decimal("25"))
    assert [bar.x for bar in bars] == [0, 10, 20]


def test_fills_are_marked_on_the_candle_they_happened_in():
    # Given 15-minute candles at 10:00, 10:15 and 10:30 (epoch seconds) and fills at 10:07, 10:29 and 10:44
    ten = 36_000
    candles = [ten, ten + 900, ten + 1800]
    fills = [Fill(ten + 1740, "sell", "take-profit", "TP"), Fill(ten + 420, "buy", "entry", "L1"),
             Fill(ten + 2640, "sell", "exit", "exit")]

    markers, outside = fill_markers(fills, candles, 15)

    # Then each marker sits on its candle, oldest first
    assert [(m.time, m.text) for m in markers] == [(ten, "L1"), (ten + 900, "TP"), (ten + 1800, "exit")]
    assert outside == 0


def test_fills_outside_the_candles_shown_are_counted_not_drawn():
    ten = 36_000
    markers, outside = fill_markers([Fill(ten - 60, "buy", "entry", "L1"), Fill(ten + 1000, "buy", "entry", "L2")],
                                    [ten], 15)

    assert markers == [] and outside == 2
