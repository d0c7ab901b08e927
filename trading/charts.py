"""The dashboard's charts as plain values (pure: no ORM, no templates): SVG coordinates of the realised
PnL chart (bars per period, a cumulative line, both axes with their values), and what a position's
candle chart draws on its candles (the ladder's price lines and the fills as markers). The templates
and ``position_chart.js`` draw them; tests check the values."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

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


# --- Realised PnL over time: the trade history's chart and the overview's last 30 days --------------

# In SVG units; the figure scales to the page width with its aspect kept, so the axis labels stay legible.
PNL_CHART_WIDTH = 720
PNL_CHART_HEIGHT = 240
# Room for the value labels left of the plot ("-12,500"), the unit above it and the date labels under it.
PNL_PLOT_LEFT, PNL_PLOT_RIGHT, PNL_PLOT_TOP, PNL_PLOT_BOTTOM = 64, 12, 24, 28
PNL_CHART_DAYS = 30  # the overview's chart
# A bar per day up to two months, per week up to two years, per month beyond: at most ~100 bars, each
# wide enough to see and to hover.
DAILY_UP_TO_DAYS = 62
WEEKLY_UP_TO_DAYS = 731
# Labels on each axis: about this many, at round values (1, 2 or 5 × a power of ten) and spread dates.
VALUE_TICKS = 5
DATE_TICKS = 8
TWO_PLACES = Decimal("0.01")


@dataclass(frozen=True)
class Tick:
    at: Decimal  # y of a value tick, x of a date tick
    label: str


@dataclass(frozen=True)
class PnlPeriod:
    """One bar: the realised PnL (USD) of the trades closed in [start, end], and the running total."""

    start: date
    end: date
    pnl_usd: Decimal
    cumulative_usd: Decimal
    x: Decimal
    width: Decimal
    y: Decimal
    height: Decimal
    line_x: Decimal  # the cumulative line's point for this period (the bar's middle)
    line_y: Decimal


@dataclass(frozen=True)
class PnlChart:
    bucket: str  # day | week | month: what one bar covers
    periods: list[PnlPeriod]
    zero_y: Decimal
    value_ticks: list[Tick]
    date_ticks: list[Tick]
    total_usd: Decimal
    width: int = PNL_CHART_WIDTH
    height: int = PNL_CHART_HEIGHT
    plot_left: int = PNL_PLOT_LEFT
    plot_right: int = PNL_CHART_WIDTH - PNL_PLOT_RIGHT
    plot_top: int = PNL_PLOT_TOP
    plot_bottom: int = PNL_CHART_HEIGHT - PNL_PLOT_BOTTOM

    @property
    def line_points(self) -> str:
        """The cumulative line as an SVG ``points`` attribute, starting from zero at the plot's left edge."""
        points = [(Decimal(self.plot_left), self.zero_y)] + [(p.line_x, p.line_y) for p in self.periods]
        return " ".join(f"{x:f},{y:f}" for x, y in points)

    @property
    def has_pnl(self) -> bool:
        """Whether any period realised anything (an empty chart says nothing a sentence could not)."""
        return any(period.pnl_usd for period in self.periods)

    @property
    def last(self) -> PnlPeriod | None:
        return self.periods[-1] if self.periods else None


def bucket_for(first: date, last: date) -> str:
    days = (last - first).days + 1
    if days <= DAILY_UP_TO_DAYS:
        return "day"
    return "week" if days <= WEEKLY_UP_TO_DAYS else "month"


def bucket_start(day: date, bucket: str) -> date:
    if bucket == "week":
        return day - timedelta(days=day.weekday())  # Monday
    if bucket == "month":
        return day.replace(day=1)
    return day


def _next_bucket(start: date, bucket: str) -> date:
    if bucket == "week":
        return start + timedelta(days=7)
    if bucket == "month":
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start + timedelta(days=1)


def nice_step(span: Decimal, count: int = VALUE_TICKS) -> Decimal:
    """The round step (1, 2 or 5 × a power of ten) giving at most about ``count`` intervals over ``span``."""
    if span <= 0:
        return Decimal(1)
    raw = span / count
    power = Decimal(1).scaleb(raw.adjusted())
    for multiple in (1, 2, 5, 10):
        if raw <= power * multiple:
            return power * multiple
    return power * 10  # unreachable: raw < 10 × power by construction


def value_label(value: Decimal, step: Decimal) -> str:
    """A tick's value with as many places as its step needs and thousands separators: "-1,500", "0.25"."""
    if not value:
        return "0"
    exponent = step.normalize().as_tuple().exponent
    places = max(0, -exponent) if isinstance(exponent, int) else 0  # NaN/Infinity steps have no places
    return f"{value:,.{places}f}"


def date_label(start: date, bucket: str) -> str:
    return f"{start:%b %Y}" if bucket == "month" else f"{start:%b} {start.day}"


def pnl_chart(
    daily: list[tuple[date, Decimal]],
    *,
    first: date | None = None,
    last: date | None = None,
    width: int = PNL_CHART_WIDTH,
    height: int = PNL_CHART_HEIGHT,
) -> PnlChart | None:
    """The chart of realised PnL per period with its running total, over [first, last] (default: the days
    of ``daily``); ``daily`` is (day, USD) with any number of rows per day. None when there is no day."""
    days = [day for day, _ in daily]
    first = first or (min(days) if days else None)
    last = last or (max(days) if days else None)
    if first is None or last is None or last < first:
        return None
    bucket = bucket_for(first, last)
    starts = [bucket_start(first, bucket)]
    while _next_bucket(starts[-1], bucket) <= last:
        starts.append(_next_bucket(starts[-1], bucket))
    totals = dict.fromkeys(starts, Decimal(0))
    for day, pnl in daily:
        if first <= day <= last:
            totals[bucket_start(day, bucket)] += pnl
    running, cumulative = Decimal(0), []
    for start in starts:
        running += totals[start]
        cumulative.append(running)

    # One value axis for both: bars and the running total are the same currency, so one scale reads true.
    values = [*totals.values(), *cumulative, Decimal(0)]
    step = nice_step(max(values) - min(values))
    low = (min(values) / step).to_integral_value(ROUND_FLOOR) * step
    high = (max(values) / step).to_integral_value(ROUND_CEILING) * step
    if high == low:
        high = low + step
    left, right = Decimal(PNL_PLOT_LEFT), Decimal(width - PNL_PLOT_RIGHT)
    top, bottom = Decimal(PNL_PLOT_TOP), Decimal(height - PNL_PLOT_BOTTOM)
    scale = (bottom - top) / (high - low)

    def y_of(value: Decimal) -> Decimal:
        return (bottom - (value - low) * scale).quantize(TWO_PLACES)

    zero = y_of(Decimal(0))
    slot = (right - left) / len(starts)
    bar = (slot * Decimal("0.8")).quantize(TWO_PLACES)  # a gap of a fifth between bars
    periods = []
    for index, start in enumerate(starts):
        pnl, x = totals[start], left + slot * index
        end = min(_next_bucket(start, bucket) - timedelta(days=1), last)
        top_y = y_of(max(pnl, Decimal(0)))
        periods.append(
            PnlPeriod(
                start=max(start, first),
                end=end,
                pnl_usd=pnl,
                cumulative_usd=cumulative[index],
                x=(x + (slot - bar) / 2).quantize(TWO_PLACES),
                width=bar,
                y=top_y,
                height=abs(y_of(pnl) - zero),
                line_x=(x + slot / 2).quantize(TWO_PLACES),
                line_y=y_of(cumulative[index]),
            )
        )
    value_ticks = []
    value = low
    while value <= high:
        value_ticks.append(Tick(y_of(value), value_label(value, step)))
        value += step
    every = max(1, -(-len(starts) // DATE_TICKS))  # ceiling: at most DATE_TICKS labels
    date_ticks = [Tick(periods[i].line_x, date_label(periods[i].start, bucket)) for i in range(0, len(starts), every)]
    return PnlChart(
        bucket=bucket,
        periods=periods,
        zero_y=zero,
        value_ticks=value_ticks,
        date_ticks=date_ticks,
        total_usd=running,
        width=width,
        height=height,
        plot_right=width - PNL_PLOT_RIGHT,
        plot_bottom=height - PNL_PLOT_BOTTOM,
    )
