"""Candles (OHLC bars) as plain values, and the arithmetic around them (pure: no ORM, no cache, no I/O).

A candle is named by the second its interval starts at (UTC epoch seconds, a multiple of the
interval), the way exchanges and the chart library both count. Three things are computed here:

- **Building candles from prices** (the paper feed records every price it moves to): ``candle_tick``
  folds one price into the forming candle and says which candle it finished; ``resample`` turns
  1-minute candles into longer ones.
- **Naming intervals**: minutes ↔ ccxt's timeframe codes (``15m``, ``4h``, ``1d``, ``1w``, ``1M``).
- **Choosing what a position's chart shows** (``chart_window``): the position's own timeframe when
  the exchange serves it, from ``CHART_LEAD_CANDLES`` candles before the opening to the close (or
  now), at most ``MAX_CHART_CANDLES`` candles: a longer life steps up to the next longer interval.
"""

from dataclasses import dataclass, replace
from decimal import Decimal

MINUTE = 60

# Context before the first entry: 100 candles is what TradingView shows left of the last bar on a
# default chart, enough to see the move the strategy entered on.
CHART_LEAD_CANDLES = 100
# Binance and Bybit answer at most 1,000 candles per request; more bars than that are also more than a
# chart 1,000 px wide can draw one pixel apart.
MAX_CHART_CANDLES = 1000
# Candles drawn after a close: the move that followed the exit.
CHART_TRAIL_CANDLES = 10

# The intervals a chart of recorded prices offers (ccxt's common set, in minutes).
STANDARD_INTERVALS = (1, 3, 5, 15, 30, 60, 120, 240, 360, 720, 1440, 10080)
MONTH_MINUTES = 43200  # ccxt's "1M": exchanges count a month as 30 days in their interval lists


@dataclass(frozen=True)
class Candle:
    opened_at: int  # UTC epoch seconds of the bar's start
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal

    def with_price(self, price: Decimal) -> "Candle":
        return replace(self, high=max(self.high, price), low=min(self.low, price), close=price)

    def as_row(self) -> tuple:
        """A compact form for storage: (opened_at, open, high, low, close) with the numbers as text ("100", not
        a price column's "100.000000000000")."""
        return (self.opened_at, *(f"{price.normalize():f}" for price in (self.open, self.high, self.low, self.close)))

    @classmethod
    def from_row(cls, row) -> "Candle":
        opened_at, open_, high, low, close = row
        return cls(int(opened_at), Decimal(open_), Decimal(high), Decimal(low), Decimal(close))


def bucket_start(at_seconds: float, interval_minutes: int) -> int:
    """The start of the ``interval_minutes`` candle holding the second ``at_seconds``."""
    size = interval_minutes * MINUTE
    return int(at_seconds) // size * size


def candle_tick(
    forming: Candle | None, *, at_seconds: float, price: Decimal, interval_minutes: int = 1
) -> tuple[Candle, Candle | None]:
    """(the forming candle once ``price`` is in it, the candle this price finished or None).

    A price in the forming candle's interval extends it; a later one opens a new candle at that
    price and finishes the old one. A price older than the forming candle (a late writer) only
    leaves the forming candle as it is.
    """
    start = bucket_start(at_seconds, interval_minutes)
    if forming is None:
        return Candle(start, price, price, price, price), None
    if start == forming.opened_at:
        return forming.with_price(price), None
    if start < forming.opened_at:
        return forming, None
    return Candle(start, price, price, price, price), forming


def resample(candles: list[Candle], interval_minutes: int) -> list[Candle]:
    """Candles (any shorter interval, oldest first) merged into ``interval_minutes`` candles."""
    merged: list[Candle] = []
    for candle in candles:
        start = bucket_start(candle.opened_at, interval_minutes)
        if merged and merged[-1].opened_at == start:
            last = merged[-1]
            merged[-1] = Candle(start, last.open, max(last.high, candle.high), min(last.low, candle.low), candle.close)
        else:
            merged.append(replace(candle, opened_at=start))
    return merged


# --- Interval names ----------------------------------------------------------------------------------


def timeframe_code(minutes: int) -> str:
    """ccxt's name for an interval: 15 → "15m", 240 → "4h", 1440 → "1d", 10080 → "1w", 43200 → "1M"."""
    if minutes % MONTH_MINUTES == 0:
        return f"{minutes // MONTH_MINUTES}M"
    if minutes % 10080 == 0:
        return f"{minutes // 10080}w"
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


UNIT_MINUTES = {"m": 1, "h": 60, "d": 1440, "w": 10080, "M": MONTH_MINUTES}


def timeframe_minutes(code: str) -> int | None:
    """The minutes of a ccxt timeframe code ("4h" → 240); None for a code in another unit (seconds, years)."""
    number, unit = code[:-1], code[-1:]
    if not number.isdigit() or unit not in UNIT_MINUTES:
        return None
    return int(number) * UNIT_MINUTES[unit]


# --- What a position's chart shows -------------------------------------------------------------------


@dataclass(frozen=True)
class ChartWindow:
    """The candles of one chart: their interval, the first candle's start, the last one's, and how many.

    ``closed`` windows end at a fixed time (a closed position): once fetched after their end they
    never change. Open windows end at the forming candle and move on.
    """

    interval_minutes: int
    start: int
    end: int
    closed: bool

    @property
    def count(self) -> int:
        return (self.end - self.start) // (self.interval_minutes * MINUTE) + 1


def chart_interval_candidates(timeframe_minutes: int, supported: list[int]) -> list[int]:
    """The intervals to try, best first: the position's timeframe (or the longest one served below it,
    or the shortest one served), then each longer one."""
    served = sorted(set(supported))
    if not served:
        return []
    below = [interval for interval in served if interval <= timeframe_minutes]
    first = served.index(below[-1]) if below else 0
    return served[first:]


def chart_window(
    *,
    timeframe_minutes: int,
    opened_at: float,
    closed_at: float | None,
    now: float,
    supported: list[int],
    lead: int = CHART_LEAD_CANDLES,
    trail: int = CHART_TRAIL_CANDLES,
    max_candles: int = MAX_CHART_CANDLES,
) -> ChartWindow | None:
    """The candles that show a position's life: ``lead`` candles before its opening to ``trail`` after
    its close (or to now), in the first candidate interval that needs at most ``max_candles``. A life too
    long even for the longest interval shows its last ``max_candles``. None when nothing is served.
    """
    candidates = chart_interval_candidates(timeframe_minutes, supported)
    if not candidates:
        return None
    window: ChartWindow | None = None
    for interval in candidates:
        size = interval * MINUTE
        start = bucket_start(opened_at, interval) - lead * size
        forming = bucket_start(now, interval)
        end = forming if closed_at is None else min(bucket_start(closed_at, interval) + trail * size, forming)
        closed = closed_at is not None and end < forming  # every candle to the end is finished
        window = ChartWindow(interval, start, max(end, start), closed)
        if window.count <= max_candles:
            return window
    assert window is not None  # candidates is not empty
    return replace(window, start=window.end - (max_candles - 1) * window.interval_minutes * MINUTE)


def recorded_intervals(
    recorded_minutes: float, *, min_candles: int, intervals: tuple[int, ...] = STANDARD_INTERVALS
) -> list[int]:
    """The intervals a record of ``recorded_minutes`` of prices fills with at least ``min_candles``
    candles (1 minute always: a fresh record still draws what it has)."""
    return [interval for interval in intervals if interval == 1 or recorded_minutes / interval >= min_candles]
