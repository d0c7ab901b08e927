"""Every enqueue of the exchanges app's background work (the only module that knows its task objects).

None of them raises: each says whether the broker took the task. What is lost when the broker is
down is asked for again by the next caller: a chart's next poll for its candles, the next beat for a
balance refresh.
"""

import logging

logger = logging.getLogger(__name__)


def refresh_candles(account_id, symbol: str, interval_minutes: int, start: int, end: int, closed: bool) -> bool:
    from exchanges.tasks import candles_refresh_task

    try:
        candles_refresh_task.delay(account_id, symbol, interval_minutes, start, end, closed)
    except Exception as exc:  # any broker failure: the chart's next poll asks again
        logger.error("could not enqueue the candles of %s (%s: %s)", symbol, type(exc).__name__, exc)
        return False
    return True


def balance_refresh(account_id: int) -> bool:
    from exchanges.tasks import balance_refresh_task

    try:
        balance_refresh_task.delay(account_id)
    except Exception as exc:  # any broker failure: the next beat sends it again
        logger.error("could not enqueue the balance refresh of account %s (%s: %s)", account_id,
                     type(exc).__name__, exc)
        return False
    return True
