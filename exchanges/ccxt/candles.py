"""Candles through ccxt: which intervals an exchange serves, and its OHLCV rows as our ``Candle``."""

import functools

import ccxt

from exchanges.candles import Candle, timeframe_minutes
from exchanges.ccxt.precision import to_decimal

# Pages of candles one fetch_candles may ask for: 1,000 candles from an exchange that pages by 100.
MAX_CANDLE_PAGES = 10


@functools.cache
def ccxt_candle_intervals(exchange_id: str) -> list[int]:
    """The candle intervals (minutes) ccxt serves for an exchange, from its class (no request)."""
    client = getattr(ccxt, exchange_id)()
    if not client.has.get("fetchOHLCV"):
        return []
    return sorted({minutes for code in (client.timeframes or {}) if (minutes := timeframe_minutes(code))})


def candle_from_row(row) -> Candle | None:
    """One ccxt OHLCV row ``[ms, open, high, low, close, volume]``; None when a price is missing."""
    if not row or len(row) < 5:
        return None
    prices = [price for value in row[1:5] if (price := to_decimal(value)) is not None]
    if len(prices) < 4:
        return None
    return Candle(int(row[0]) // 1000, *prices)
