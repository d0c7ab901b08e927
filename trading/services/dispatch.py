"""Every enqueue of the engine's background work, in one place (the only module that knows task objects,
looked up by name in Celery's registry: ``trading.tasks`` imports the services, so services never import it).

Call these after the decision's transaction committed (``transaction.on_commit``) or outside any.
None of them raises: a broker outage leaves the decision standing in the database, and a sweep
re-sends it (stored signals: ``signal_sweep``; grids, take-profits and closes:
``trading.services.recovery``; queue promotion: beat's schedule). Each says whether the work was
handed to the broker.
"""

import logging
from decimal import Decimal

from celery import group as celery_group

from core.dispatch import task

logger = logging.getLogger(__name__)

# The tasks' registered names (trading/tasks.py, imported by TradingConfig.ready()).
ROUTE_SIGNAL = "trading.tasks.route_signal_task"
SUBMIT_PYRAMID = "trading.tasks.submit_pyramid_task"
PLACE_ORDER = "trading.tasks.place_order_task"
CLOSE_POSITION = "trading.tasks.close_position_task"
PROMOTE_QUEUE = "trading.tasks.promote_queue_task"
SYNC_FUNDING = "trading.tasks.sync_funding_symbol_task"


def _send(what: str, send) -> bool:
    try:
        send()
    except Exception as exc:  # any broker failure: the stored state is re-sent by a sweep
        logger.error("could not enqueue %s (%s: %s); a sweep will re-send it", what, type(exc).__name__, exc)
        return False
    return True


def route_signal(signal_id) -> bool:
    return _send(f"routing of signal {signal_id}", lambda: task(ROUTE_SIGNAL).delay(str(signal_id)))


def submit_pyramid(pyramid_id) -> bool:
    return _send(f"the grid of pyramid {pyramid_id}", lambda: task(SUBMIT_PYRAMID).delay(str(pyramid_id)))


def place_order(order_id) -> bool:
    return _send(f"placement of order {order_id}", lambda: task(PLACE_ORDER).delay(str(order_id)))


def close_position(
    group_id, reason: str, quantity: Decimal | None = None, then_submit=(), *, request_key: str | None = None
) -> bool:
    """A full close (``quantity`` None) or a reduce; a reduce carries the ``request_key`` that makes it
    sell once however often its task runs."""
    return _send(
        f"the close of group {group_id}",
        lambda: task(CLOSE_POSITION).delay(
            str(group_id),
            str(reason),
            str(quantity) if quantity is not None else None,
            [str(p) for p in then_submit],
            request_key,
        ),
    )


def close_positions_together(closes: list[tuple[str, str | None, str | None]], reason: str) -> bool:
    """Several closes (group id, quantity or None, request key or None) as one Celery group: published at
    once, run in parallel."""
    return _send(
        f"{len(closes)} closes",
        lambda: celery_group(
            task(CLOSE_POSITION).s(str(group_id), str(reason), quantity, [], request_key)
            for group_id, quantity, request_key in closes
        ).apply_async(),
    )


def promote_queue(user_id) -> bool:
    return _send(f"queue promotion for user {user_id}", lambda: task(PROMOTE_QUEUE).delay(str(user_id)))


def sync_funding(account_id, symbol: str) -> bool:
    """Fetch one (swap account, symbol)'s funding now: at a group's close, so its final PnL includes it."""
    return _send(
        f"the funding of {symbol} on account {account_id}", lambda: task(SYNC_FUNDING).delay(account_id, symbol)
    )
