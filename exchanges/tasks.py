from celery import shared_task

from exchanges.paper.services import paper_feed_tick
from exchanges.services.candles import CANDLES_REFRESH_SECONDS, candles_refresh


@shared_task(ignore_result=True)
def paper_feed_tick_task() -> None:
    """Beat: move paper prices (synthetic walk, live tickers) and match resting paper orders."""
    paper_feed_tick()


# A refresh that waited longer than a refresh period is stale before it starts: the chart's next poll
# has asked for a newer one. Failures are not retried here; that poll is the retry.
@shared_task(ignore_result=True, expires=CANDLES_REFRESH_SECONDS)
def candles_refresh_task(account_id: int, symbol: str, interval_minutes: int, start: int, end: int,
                         closed: bool) -> None:
    """A position chart's candles from the exchange into the cache (``exchanges.services.candles``)."""
    candles_refresh(account_id=account_id, symbol=symbol, interval_minutes=interval_minutes, start=start, end=end,
                    closed=closed)
