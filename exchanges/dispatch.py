"""Every enqueue of the exchanges app's background work (the only module that knows its task objects, looked
up by name in Celery's registry: ``exchanges.tasks`` imports the services that call this module).

None of them raises: each says whether the broker took the task. What is lost when the broker is
down is asked for again by the next caller: a chart's next poll for its candles, the next beat for a
balance refresh.
"""

import logging

from core.dispatch import task

logger = logging.getLogger(__name__)

# The tasks' registered names (exchanges/tasks.py, imported by ExchangesConfig.ready()).
CANDLES_REFRESH = "exchanges.tasks.candles_refresh_task"
BALANCE_REFRESH = "exchanges.tasks.balance_refresh_task"


def refresh_candles(account_id, symbol: str, interval_minutes: int, start: int, end: int, closed: bool) -> bool:
    try:
        task(CANDLES_REFRESH).delay(account_id, symbol, interval_minutes, start, end, closed)
    except Exception as exc:  # any broker failure: the chart's next poll asks again
        logger.error("could not enqueue the candles of %s (%s: %s)", symbol, type(exc).__name__, exc)
        return False
    return True


def balance_refresh(account_id: int) -> bool:
    try:
        task(BALANCE_REFRESH).delay(account_id)
    except Exception as exc:  # any broker failure: the next beat sends it again
        logger.error(
            "could not enqueue the balance refresh of account %s (%s: %s)", account_id, type(exc).__name__, exc
        )
        return False
    return True
