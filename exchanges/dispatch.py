"""The enqueue of the exchanges app's tasks (the only module that knows its task objects).

Never raises: says whether the broker took the task. A balance refresh that could not be sent is
simply sent again by the next beat.
"""

import logging

logger = logging.getLogger(__name__)


def balance_refresh(account_id: int) -> bool:
    from exchanges.tasks import balance_refresh_task

    try:
        balance_refresh_task.delay(account_id)
    except Exception as exc:  # any broker failure: the next beat sends it again
        logger.error("could not enqueue the balance refresh of account %s (%s: %s)", account_id,
                     type(exc).__name__, exc)
        return False
    return True
