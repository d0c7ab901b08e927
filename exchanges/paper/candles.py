"""The paper feed's price history: every price a paper market moves to, kept as 1-minute candles.

A real exchange serves candles; the paper exchange only ever had a current price, so a paper
position's chart had nothing to draw. Every price the feed sets (the synthetic walk, live tickers,
``paper price`` by hand) is folded into the market's forming 1-minute candle here; a paper account's
own price (``PaperAccountPrice``) into that account's own record, since its orders trade at it.

Where: the shared cache (Redis in production, files under ``var/cache/`` otherwise), like the
market lists. The history is for the chart only: losing it (a cache flush, ``make reset``) loses a
picture, never a trade, so it does not earn a table, its migration and a pruning job. Per market,
two keys: the forming candle, rewritten at each price (a few dozen bytes: one price per market per
``PAPER_TICK_SECONDS``), and the finished candles, rewritten once a minute when a candle finishes and
cut to the last ``PAPER_CANDLES_KEPT``. Both expire when the market stops moving for that long.

Beat's walk is the one steady writer; a price set by hand in the same second may make the two
writers race on a minute's rollover, which at worst loses that one minute's high or low. Reads and
writes never raise: a cache outage costs the chart, not the price update or the matching.
"""

import logging
from datetime import datetime
from decimal import Decimal

from django.core.cache import cache
from django.utils import timezone

from exchanges.candles import MINUTE, Candle, candle_tick
from exchanges.models import ExchangeAccount, PaperAccountPrice

logger = logging.getLogger(__name__)

# A day of 1-minute candles: 96 candles of 15 minutes for the typical strategy timeframe, about
# 73 KB per market in the cache (1,440 rows of five short strings, pickled).
PAPER_CANDLES_KEPT = 1440
HISTORY_SECONDS = PAPER_CANDLES_KEPT * MINUTE


def _book(exchange_id: str, account_id) -> str:
    """Whose prices: the exchange's shared ones, or one account's own."""
    return exchange_id if account_id is None else f"{exchange_id}:account-{account_id}"


def _history_key(book: str, symbol: str) -> str:
    return f"paper-candles:{book}:{symbol}"


def _forming_key(book: str, symbol: str) -> str:
    return f"paper-candle-forming:{book}:{symbol}"


def paper_prices_record(
    exchange_id: str, prices: dict[str, Decimal], *, at: datetime | None = None, account_id=None
) -> None:
    """Fold each market's new price into its forming candle; a candle it finishes joins the history.
    ``account_id``: the prices are that account's own, not the shared ones."""
    if not prices:
        return
    seconds = (at or timezone.now()).timestamp()
    book = _book(exchange_id, account_id)
    try:
        keys = {symbol: _forming_key(book, symbol) for symbol in prices}
        stored = cache.get_many(list(keys.values()))
        forming, finished = {}, {}
        for symbol, price in prices.items():
            previous = stored.get(keys[symbol])
            candle, done = candle_tick(Candle.from_row(previous) if previous else None, at_seconds=seconds, price=price)
            forming[keys[symbol]] = candle.as_row()
            if done is not None:
                finished[symbol] = done
        cache.set_many(forming, timeout=HISTORY_SECONDS)
        if finished:  # once a minute: every market the walk moved finishes its candle in the same call
            _append(book, finished)
    except Exception:  # the chart's history must never stop a price update or its matching
        logger.exception("could not record paper prices of %s for the chart", exchange_id)


def _append(book: str, finished: dict[str, Candle]) -> None:
    keys = {symbol: _history_key(book, symbol) for symbol in finished}
    stored = cache.get_many(list(keys.values()))
    updated = {}
    for symbol, candle in finished.items():
        # A minute written again (two writers on one rollover) replaces itself.
        rows = [row for row in stored.get(keys[symbol]) or [] if row[0] < candle.opened_at]
        rows.append(candle.as_row())
        updated[keys[symbol]] = rows[-PAPER_CANDLES_KEPT:]
    cache.set_many(updated, timeout=HISTORY_SECONDS)


def paper_candles(exchange_id: str, symbol: str, *, account_id=None) -> list[Candle]:
    """The recorded 1-minute candles of one paper market (``account_id``: of that account's own price),
    oldest first, the forming one last."""
    book = _book(exchange_id, account_id)
    history, forming_key = _history_key(book, symbol), _forming_key(book, symbol)
    try:
        stored = cache.get_many([history, forming_key])
    except Exception:
        logger.exception("could not read the recorded prices of %s %s", book, symbol)
        return []
    candles = [Candle.from_row(row) for row in stored.get(history) or []]
    forming = stored.get(forming_key)
    if forming and (not candles or forming[0] > candles[-1].opened_at):
        candles.append(Candle.from_row(forming))
    return candles


def account_candles(account: ExchangeAccount, symbol: str) -> tuple[list[Candle], bool]:
    """The record of the prices ``account`` trades ``symbol`` at — its own price's while it has one, else the
    shared one — and whether it is its own."""
    own = PaperAccountPrice.objects.filter(account=account, symbol=symbol).exists()
    return paper_candles(account.exchange_id, symbol, account_id=account.pk if own else None), own
