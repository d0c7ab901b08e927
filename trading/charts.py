"""The dashboard's charts as plain values (pure: no ORM, no templates): SVG coordinates of a daily PnL
bar chart, and what a position's candle chart draws on its candles (the ladder's price lines and the
fills as markers). The templates and ``position_chart.js`` draw them; tests check the values."""

from dataclasses import dataclass
from decimal import Decimal

# The overview's PnL chart: a month of days, 10 × 100 SVG units per bar (it scales to the page width).
PNL_CHART_DAYS = 30
PNL_BAR_WIDTH = 10
PNL_CHART_HEIGHT = 100


@dataclass(frozen=True)
class PnlBar:
    day: object
    pnl_usd: Decimal
    x: int
    y: Decimal
    height: Decimal


def pnl_bars(series: list[tuple], *, bar_width: int = PNL_BAR_WIDTH,
             chart_height: int = PNL_CHART_HEIGHT) -> tuple[list[PnlBar], Decimal]:
    """Bars of an SVG chart of daily PnL (profits up, losses down) and the y of the zero line."""
    most = max((pnl for _, pnl in series), default=Decimal(0))
    least = min((pnl for _, pnl in series), default=Decimal(0))
    span = (max(most, 0) - min(least, 0)) or Decimal(1)
    scale = chart_height / span
    zero = max(most, 0) * scale
    bars = [
        PnlBar(day, pnl, index * bar_width, zero - pnl * scale if pnl > 0 else zero, abs(pnl) * scale)
        for index, (day, pnl) in enumerate(series)
    ]
    return bars, zero


# What the position chart's lines are, in the order their labels give way when the chart is too short
# to label them all (position_chart.js): the references first, then the legs, then the take-profits.
LINE_KINDS = ("average", "exit", "target", "stop", "leg-filled", "leg-open", "leg-cancelled", "take-profit")


@dataclass(frozen=True)
class ChartLine:
    """A price drawn across the candles: a leg, its take-profit, the average entry, the target, the stop."""

    price: Decimal
    label: str  # "P1 L2", "TP P1 L2", "average entry"
    kind: str  # one of LINE_KINDS


@dataclass(frozen=True)
class Fill:
    """One fill to mark on the chart: when, which way, what it was."""

    at: float  # UTC epoch seconds
    side: str  # buy | sell
    kind: str  # entry | take-profit | exit
    text: str  # "L1", "TP", "exit"


@dataclass(frozen=True)
class ChartMarker:
    time: int  # the start of the candle the fill happened in
    side: str
    kind: str
    text: str


def fill_markers(fills: list[Fill], candle_starts: list[int], interval_minutes: int) -> tuple[list[ChartMarker], int]:
    """The fills as markers on the candles they happened in, oldest first, and how many fills no candle
    shown holds (before the first candle, or after the last one fetched)."""
    shown = set(candle_starts)
    size = interval_minutes * 60
    markers, outside = [], 0
    for fill in sorted(fills, key=lambda fill: fill.at):
        start = int(fill.at) // size * size
        if start in shown:
            markers.append(ChartMarker(start, fill.side, fill.kind, fill.text))
        else:
            outside += 1
    return markers, outside
