"""Candles for a position's chart, without a web request ever waiting on an exchange.

Two sources:

- **A real exchange** (live or testnet account): ccxt's OHLCV, fetched by a worker
  (``candles_refresh_task``) into the shared cache and read from there. A page asking for candles the
  cache does not hold (or holds older than ``CANDLES_REFRESH_SECONDS``) gets what is there — nothing
  the first time, "loading" — and starts one refresh; pages asking meanwhile start none (a cache
  ``add`` is the lock), so any number of open charts of one market cost one request per 30 s. The
  candles are public market data: one cache entry per exchange, mode, market and window, shared by
  every trader. A window that ended (a closed position's) is fetched once after its end and kept.
- **The paper exchange**: the prices its feed recorded (``exchanges.paper.candles``), read directly:
  no exchange is involved. An account that set its own price for the market sees the record of its
  own prices, which its orders trade at. The record starts when the feed first moves a market, so
  the chart steps down to shorter candles until the record fills ``MIN_RECORDED_CANDLES`` of the
  position's own.
"""

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.core.cache import cache

from exchanges import dispatch
from exchanges.candles import MAX_CHART_CANDLES, Candle, ChartWindow, chart_window, recorded_intervals, resample
from exchanges.connector import ExchangeError
from exchanges.models import ExchangeAccount
from exchanges.paper.candles import account_candles
from exchanges.services.accounts import connector_for_account

logger = logging.getLogger(__name__)

# How old a cached open window may get before a viewer's poll refreshes it: a 1-minute chart's last
# candle stays within half a candle of the exchange, and a chart costs Binance 2 (up to 500 candles)
# or 5 (up to 1,000) of its 6,000 weight/minute per 30 s however many traders look at it.
CANDLES_REFRESH_SECONDS = 30
# How long fetched candles stay in the cache unasked: a day, after which nobody was looking.
CANDLES_KEPT_SECONDS = 86_400
# A paper record shorter than 30 of the position's candles is drawn in shorter candles: 30 bars read
# as a chart, fewer as a handful of boxes.
MIN_RECORDED_CANDLES = 30


@dataclass(frozen=True)
class ChartCandles:
    """What a chart can draw now and the sentence that says where it came from (or why it is empty)."""

    candles: list[Candle] = field(default_factory=list)
    interval_minutes: int | None = None
    state: str = "ready"  # ready | loading | unavailable
    message: str = ""


def chart_candles(
    *,
    account: ExchangeAccount,
    symbol: str,
    timeframe_minutes: int,
    opened_at: datetime,
    closed_at: datetime | None,
    now: datetime | None = None,
) -> ChartCandles:
    """The candles of a position's life on ``account``'s exchange (see the module docstring). Never
    sends a request: a real exchange's candles come from the cache, and a refresh is handed to a worker."""
    now_seconds = (now or datetime.now(UTC)).timestamp()
    if account.mode == ExchangeAccount.Mode.PAPER:
        return _paper_candles(account, symbol, timeframe_minutes, opened_at, closed_at, now_seconds)
    window = chart_window(
        timeframe_minutes=timeframe_minutes,
        opened_at=opened_at.timestamp(),
        closed_at=closed_at.timestamp() if closed_at else None,
        now=now_seconds,
        supported=_served_intervals(account.exchange_id),
    )
    if window is None:
        return ChartCandles(state="unavailable", message=f"{account.exchange_id} serves no candles through ccxt.")
    key = candles_cache_key(account, symbol, window)
    entry = _cached(key) or {}
    candles = [Candle.from_row(row) for row in entry.get("rows", [])]
    fetched_at = entry.get("fetched_at")
    final = window.closed and fetched_at is not None and fetched_at > window.end + window.interval_minutes * 60
    tried_at = max(fetched_at or 0, entry.get("failed_at") or 0)
    if not final and now_seconds - tried_at > CANDLES_REFRESH_SECONDS:
        _refresh(account, symbol, window, key)
    what = f"{_interval_words(window.interval_minutes)} candles from {account.exchange_id}"
    if entry.get("error"):
        return ChartCandles(
            candles,
            window.interval_minutes,
            "unavailable" if not candles else "ready",
            f"{what}: the last request failed ({entry['error']}); retrying every {CANDLES_REFRESH_SECONDS} s.",
        )
    if fetched_at is None:
        return ChartCandles([], window.interval_minutes, "loading", f"Fetching {what}…")
    return ChartCandles(
        candles, window.interval_minutes, "ready", f"{what}, fetched {_age_words(now_seconds - fetched_at)} ago."
    )


def _served_intervals(exchange_id: str) -> list[int]:
    from exchanges.ccxt.candles import ccxt_candle_intervals

    try:
        return ccxt_candle_intervals(exchange_id)
    except Exception:  # not a ccxt exchange id: the chart says no candles are served
        logger.exception("no candle intervals for %s", exchange_id)
        return []


def candles_cache_key(account: ExchangeAccount, symbol: str, window: ChartWindow) -> str:
    end = window.end if window.closed else "open"
    return f"candles:{account.exchange_id}:{account.mode}:{symbol}:{window.interval_minutes}:{window.start}:{end}"


def _cached(key: str) -> dict | None:
    try:
        return cache.get(key)
    except Exception:  # a chart without candles, not a failed page
        logger.exception("could not read candles %s from the cache", key)
        return None


def _refresh(account: ExchangeAccount, symbol: str, window: ChartWindow, key: str) -> None:
    try:
        if not cache.add(f"{key}:refreshing", 1, timeout=CANDLES_REFRESH_SECONDS):
            return  # another viewer's poll already asked a worker
    except Exception:
        logger.exception("could not take the refresh lock of %s", key)
        return
    dispatch.refresh_candles(account.pk, symbol, window.interval_minutes, window.start, window.end, window.closed)


def candles_refresh(*, account_id: int, symbol: str, interval_minutes: int, start: int, end: int, closed: bool) -> None:
    """Fetch one chart window from the exchange into the cache (the worker's side of ``chart_candles``).

    A failure keeps the candles fetched before and stores the exchange's message, which the chart
    shows; the next viewer's poll after ``CANDLES_REFRESH_SECONDS`` tries again.
    """
    account = ExchangeAccount.objects.filter(pk=account_id).first()
    if account is None:
        return
    window = ChartWindow(interval_minutes, start, end, closed)
    key = candles_cache_key(account, symbol, window)
    previous = _cached(key) or {}
    # An open window grew while the task waited: one more candle than asked covers the new one (within
    # the 1,000 an exchange answers at most: Binance refuses a larger limit).
    limit = min(window.count + (0 if closed else 1), MAX_CHART_CANDLES)
    try:
        candles = connector_for_account(account).fetch_candles(
            symbol, interval_minutes=interval_minutes, since=datetime.fromtimestamp(start, UTC), limit=limit
        )
    except ExchangeError as exc:
        logger.warning(
            "candles of %s %s (%s m) could not be fetched: %s", account.exchange_id, symbol, interval_minutes, exc
        )
        entry = {**previous, "error": str(exc), "failed_at": time.time()}
    else:
        entry = {"rows": [candle.as_row() for candle in candles], "fetched_at": time.time(), "error": ""}
    cache.set(key, entry, timeout=CANDLES_KEPT_SECONDS)


def _paper_candles(
    account: ExchangeAccount,
    symbol: str,
    timeframe_minutes: int,
    opened_at: datetime,
    closed_at: datetime | None,
    now_seconds: float,
) -> ChartCandles:
    recorded, own = account_candles(account, symbol)
    if not recorded:
        return ChartCandles(
            state="unavailable",
            message=(
                f"No price recorded for {symbol} on the paper {account.exchange_id} yet: the paper feed records "
                f"every price it moves to, from its first move on."
            ),
        )
    recorded_minutes = (recorded[-1].opened_at - recorded[0].opened_at) / 60 + 1
    window = chart_window(
        timeframe_minutes=timeframe_minutes,
        opened_at=opened_at.timestamp(),
        closed_at=closed_at.timestamp() if closed_at else None,
        now=now_seconds,
        supported=recorded_intervals(recorded_minutes, min_candles=MIN_RECORDED_CANDLES),
    )
    assert window is not None  # recorded_intervals always serves 1-minute candles
    candles = [
        candle
        for candle in resample(recorded, window.interval_minutes)
        if window.start <= candle.opened_at <= window.end
    ]
    whose = "your own prices for this market" if own else "the paper feed's recorded prices"
    message = f"{_interval_words(window.interval_minutes)} candles from {whose}"
    if window.interval_minutes < timeframe_minutes:
        message += (
            f" (the position's timeframe is {_interval_words(timeframe_minutes)}; the feed has recorded "
            f"{_age_words(recorded_minutes * 60)} of prices so far)"
        )
    if not candles:
        return ChartCandles(
            [], window.interval_minutes, "unavailable", message + ": none recorded in this position's time."
        )
    return ChartCandles(candles, window.interval_minutes, "ready", message + ".")


def _interval_words(minutes: int) -> str:
    for unit, size in (("week", 10080), ("day", 1440), ("hour", 60)):
        if minutes % size == 0:
            return f"{minutes // size}-{unit}"
    return f"{minutes}-minute"


def _age_words(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"
