"""The dashboard's charts as plain values (pure: no ORM, no templates): SVG coordinates of a daily PnL
bar chart and of a position's price ladder. The templates draw them; tests check the geometry."""

from dataclasses import dataclass
from decimal import Decimal

# The overview's PnL chart: a month of days, 10 × 100 SVG units per bar (it scales to the page width).
PNL_CHART_DAYS = 30
PNL_BAR_WIDTH = 10
PNL_CHART_HEIGHT = 100

# The position page's ladder chart, in SVG units: tall enough that five legs, their take-profits and
# the four reference lines keep their labels apart on a typical 1-2 % grid.
LADDER_CHART_HEIGHT = 320
LADDER_CHART_MARGIN = 12

REFERENCE_LINES = ("average", "target", "stop", "current")


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


@dataclass(frozen=True)
class PriceLine:
    y: Decimal
    price: Decimal
    label: str
    kind: str  # css class: leg-filled, leg-open, take-profit, average, target, stop, current

    @property
    def is_reference(self) -> bool:
        """Average, target, stop and current price are labelled on the left, the legs on the right, so a
        reference price next to a leg's does not print over it."""
        return self.kind in REFERENCE_LINES


def price_lines(lines: list[tuple[Decimal, str, str]], *, height: int = LADDER_CHART_HEIGHT,
                margin: int = LADDER_CHART_MARGIN) -> list[PriceLine]:
    """(price, label, kind) placed on a vertical price axis, highest price at the top."""
    prices = [price for price, _, _ in lines]
    if not prices:
        return []
    top, bottom = max(prices), min(prices)
    scale = (height - 2 * margin) / ((top - bottom) or Decimal(1))
    return [PriceLine(margin + (top - price) * scale, price, label, kind)
            for price, label, kind in sorted(lines, key=lambda line: -line[0])]
