"""The dashboard's chart geometry (pure, no database)."""

from decimal import Decimal

from trading.charts import pnl_bars, price_lines


def test_pnl_bars_put_profits_above_and_losses_below_the_zero_line():
    bars, zero = pnl_bars([("d1", Decimal("30")), ("d2", Decimal(0)), ("d3", Decimal("-10"))], chart_height=100)

    assert zero == Decimal("75")
    assert (bars[0].y, bars[0].height) == (Decimal(0), Decimal("75"))
    assert bars[1].height == 0
    assert (bars[2].y, bars[2].height) == (Decimal("75"), Decimal("25"))
    assert [bar.x for bar in bars] == [0, 10, 20]


def test_price_lines_put_the_highest_price_on_top():
    lines = price_lines([(Decimal("99"), "leg 2", "leg-open"), (Decimal("101"), "target", "target"),
                         (Decimal("100"), "leg 1", "leg-filled")], height=120, margin=10)

    assert [line.label for line in lines] == ["target", "leg 1", "leg 2"]
    assert [line.y for line in lines] == [Decimal(10), Decimal(60), Decimal(110)]
    assert price_lines([]) == []
