"""Every enqueue of the engine's background work, in one place (the only module that knows task objects).

Call these after the decision's transaction committed (``transaction.on_commit``) or outside any.
None of them raises: a broker outage leaves the decision standing in the database, and a sweep
re-sends it (stored signals: ``signal_sweep``; grids, take-profits and closes:
``trading.services.recovery``; queue promotion: beat's schedule). Each says whether the work was
handed to the broker.
"""

import logging
from decimal import Decimal

logger = logging.getLogger(__name__)


def _send(what: str, send) -> bool:
    try:
        send()
    except Exception as exc:  # any broker failure: the stored state is re-sent by a sweep
        logger.error("could not enqueue %s (%s: %s); a sweep will re-send it", what, type(exc).__name__, exc)
        return False
    return True


def route_signal(signal_id) -> bool:
    from trading.tasks import route_signal_task

    return _send(f"routing of signal {signal_id}", lambda: route_signal_task.delay(str(signal_id)))


def submit_pyramid(pyramid_id) -> bool:
    from trading.tasks import submit_pyramid_task

    return _send(f"the grid of pyramid {pyramid_id}", lambda: submit_pyramid_task.delay(str(pyramid_id)))


def place_order(order_id) -> bool:
    from trading.tasks import place_order_task

    return _send(f"placement of order {order_id}", lambda: place_order_task.delay(str(order_id)))


def close_position(group_id, reason: str, quantity: Decimal | None = None, then_submit=(), *,
                   request_key: str | None = None) -> bool:
    """A full close (``quantity`` None) or a reduce; a reduce carries the ``request_key`` that makes it
    sell once however often its task runs."""
    from trading.tasks import close_position_task

    return _send(f"the close of group {group_id}", lambda: close_position_task.delay(
        str(group_id), str(reason), str(quantity) if quantity is not None else None, [str(p) for p in then_submit],
        request_key))


def close_positions_together(closes: list[tuple[str, str | None, str | None]], reason: str) -> bool:
    """Several closes (group id, quantity or None, request key or None) as one Celery group: published at
    once, run in parallel."""
    from celery import group as celery_group

    from trading.tasks import close_position_task

    return _send(f"{len(closes)} closes", lambda: celery_group(
        close_position_task.s(str(group_id), str(reason), quantity, [], request_key)
        for group_id, quantity, request_key in closes
    ).apply_async())


def promote_queue(user_id) -> bool:
    from trading.tasks import promote_queue_task

    return _send(f"queue promotion for user {user_id}", lambda: promote_queue_task.delay(str(user_id)))
