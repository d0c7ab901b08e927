"""The only place that changes the status of a position group or an order.

Each move is checked against ``trading.states`` and written with a conditional UPDATE
(``WHERE status = <the status we read>``), so a concurrent writer that already moved the row makes
this call fail loudly instead of silently overwriting its move. Every move is logged.
"""

import logging

from django.utils import timezone

from trading.models import Order, PositionGroup
from trading.states import GroupStatus, IllegalTransition, OrderStatus, check_group_move, check_order_move

logger = logging.getLogger(__name__)


class StaleStatus(IllegalTransition):
    """The row's status changed in the database since it was read."""


def group_transition(group: PositionGroup, *, to: GroupStatus, reason: str = "") -> PositionGroup:
    """Move ``group`` to ``to``; raises IllegalTransition for a move the state machine forbids."""
    current = group.status
    check_group_move(current, to)
    now = timezone.now()
    changes = {"status": to.value, "updated_at": now}
    if reason:
        changes["status_reason"] = reason
    if to == GroupStatus.CLOSED:
        changes["closed_at"] = now
    updated = PositionGroup.objects.filter(pk=group.pk, status=current).update(**changes)
    if not updated:
        raise StaleStatus("position group", current, to)
    for field, value in changes.items():
        setattr(group, field, value)
    logger.info("position group %s: %s -> %s%s", group.pk, current, to, f" ({reason})" if reason else "")
    return group


def order_transition(order: Order, *, to: OrderStatus, reason: str = "", where: dict | None = None, **fields) -> Order:
    """Move ``order`` to ``to``, writing ``fields`` (fill quantities, ids, errors) in the same UPDATE.

    ``where`` adds conditions the row must still meet (e.g. ``{"submitted_at__isnull": True}``:
    cancel a pending order only if no worker has started sending it).
    """
    current = order.status
    check_order_move(current, to)
    changes = {"status": to.value, "updated_at": timezone.now(), **fields}
    if reason and to == OrderStatus.FAILED:
        changes.setdefault("error_message", reason)
    updated = Order.objects.filter(pk=order.pk, status=current, **(where or {})).update(**changes)
    if not updated:
        raise StaleStatus("order", current, to)
    for field, value in changes.items():
        setattr(order, field, value)
    logger.info("order %s (%s): %s -> %s%s", order.client_order_id, order.role, current, to, f" ({reason})" if reason else "")
    return order
