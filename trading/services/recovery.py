"""Recovery sweep: exchange work that was decided but whose task never ran (broker down, worker lost).

Placement and closing are idempotent (client order ids, lookup before resend, state re-read under
locks), so re-enqueueing work that might still be in flight is safe: the second run finds it done.
"""

import logging
from datetime import timedelta

from django.utils import timezone

from trading.models import Order, PositionGroup, Pyramid
from trading.services import dispatch
from trading.states import GROUP_NOT_CLOSABLE_STATUSES, GroupStatus, OrderStatus

logger = logging.getLogger(__name__)

# Twice the longest normal path (placement with its 1 + 2 + 4 s backoff, plus queueing delay), so
# work that is merely slow is not re-sent while it is still running.
STALE_AFTER = timedelta(seconds=60)


def stalled_work_resend() -> tuple[int, int]:
    """Re-enqueue grids never placed and closes never finished; returns (pyramids, groups)."""
    cutoff = timezone.now() - STALE_AFTER
    pyramids = Pyramid.objects.filter(status=Pyramid.Status.PENDING, created_at__lt=cutoff).exclude(
        group__status__in=GROUP_NOT_CLOSABLE_STATUSES
    )
    groups = PositionGroup.objects.filter(status=GroupStatus.CLOSING, updated_at__lt=cutoff)
    pyramid_ids = list(pyramids.values_list("pk", flat=True))
    closes = list(groups.values_list("pk", "exit_reason"))
    for pyramid_id in pyramid_ids:
        dispatch.submit_pyramid(pyramid_id)
    for group_id, reason in closes:
        dispatch.close_position(group_id, reason or "manual")
    if pyramid_ids or closes:
        logger.warning("re-sent %d stalled grid placement(s) and %d stalled close(s)", len(pyramid_ids), len(closes))
    return len(pyramid_ids), len(closes)


def stalled_take_profits_resend() -> int:
    """Re-enqueue take-profits left ``pending`` by a worker that died between committing the row and
    hearing from the exchange; returns how many.

    Nothing else sends them again: the fill sync looks only at orders the exchange has (open, partly
    filled, unknown) and counts a pending take-profit as the leg's, so without this the leg would
    never get one and its position never close. ``order_place`` looks a claimed row up by client
    order id before sending, so one that did reach the exchange is adopted, not doubled.
    """
    cutoff = timezone.now() - STALE_AFTER
    order_ids = list(
        Order.objects.filter(role=Order.Role.TAKE_PROFIT, status=OrderStatus.PENDING, created_at__lt=cutoff)
        .exclude(group__status__in=GROUP_NOT_CLOSABLE_STATUSES)
        .values_list("pk", flat=True)
    )
    for order_id in order_ids:
        dispatch.place_order(order_id)
    if order_ids:
        logger.warning("re-sent %d stalled take-profit placement(s)", len(order_ids))
    return len(order_ids)
