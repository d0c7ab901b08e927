"""The only place that changes the status of a position group, an order, a pyramid, a signal or a
queue entry.

Each move is checked against ``trading.states`` and written with a conditional UPDATE
(``WHERE status = <the status we read>``), so a concurrent writer that already moved the row makes
this call fail loudly instead of silently overwriting its move. Every move is logged.

Rows moved without being read first (a group's pyramids at its close, the signal sweep's batch, a
queue entry resolved by its key) go through the ``*_move`` functions: the statuses they move *from*
are checked against the table and written into the UPDATE's filter, so a row that a racing writer
already moved elsewhere is left alone instead of being moved illegally. They return how many rows moved.
"""

import logging

from django.utils import timezone

from trading.models import Order, PositionGroup, Signal
from trading.states import (
    PYRAMID_MOVES,
    QUEUED_SIGNAL_MOVES,
    SIGNAL_MOVES,
    GroupStatus,
    IllegalTransition,
    OrderStatus,
    PyramidStatus,
    QueuedSignalStatus,
    SignalStatus,
    check_group_move,
    check_order_move,
    check_pyramid_move,
    check_queued_signal_move,
    check_signal_move,
    sources_of,
)

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
    logger.info(
        "order %s (%s): %s -> %s%s", order.client_order_id, order.role, current, to, f" ({reason})" if reason else ""
    )
    return order


def signal_transition(signal: Signal, *, to: SignalStatus, reason: str, **fields) -> Signal:
    """Move ``signal`` from the status it was read with (under the routing lock) to ``to``, writing its
    ``reason`` and ``fields`` (``routed_at``, ``symbol``) in the same UPDATE."""
    current, to = signal.status, SignalStatus(to)
    check_signal_move(current, to)
    changes = {"status": to.value, "reason": reason, **fields}
    if not Signal.objects.filter(pk=signal.pk, status=current).update(**changes):
        raise StaleStatus("signal", current, to)
    for field, value in changes.items():
        setattr(signal, field, value)
    logger.info("signal %s: %s -> %s", signal.pk, current, to)
    return signal


def signals_move(signals, *, to: SignalStatus, reason: str, sources=None, **fields) -> int:
    """Move every signal of the queryset ``signals`` that is in ``sources`` (default: every status that
    may move to ``to``) to ``to``, with its ``reason``."""
    return _move(
        signals, "signal", SIGNAL_MOVES, check_signal_move, SignalStatus(to), sources, {"reason": reason, **fields}
    )


def pyramids_move(pyramids, *, to: PyramidStatus, sources=None, **fields) -> int:
    """Move every pyramid of the queryset ``pyramids`` in ``sources`` (default: every status that may
    move to ``to``) to ``to``. A pyramid that closes gets its ``closed_at`` (now, unless given); one
    handed back from closed to filled loses it."""
    to = PyramidStatus(to)
    if to == PyramidStatus.CLOSED:
        fields.setdefault("closed_at", timezone.now())
    elif PyramidStatus.CLOSED in (sources if sources is not None else sources_of(PYRAMID_MOVES, to)):
        fields.setdefault("closed_at", None)
    return _move(pyramids, "pyramid", PYRAMID_MOVES, check_pyramid_move, to, sources, fields)


def queued_signals_move(entries, *, to: QueuedSignalStatus, reason: str, sources=None, **fields) -> int:
    """End every queue entry of the queryset ``entries`` still ``queued`` (promoted, expired,
    cancelled), with its reason and the time it left the queue."""
    fields = {"status_reason": reason, "resolved_at": timezone.now(), **fields}
    return _move(
        entries, "queue entry", QUEUED_SIGNAL_MOVES, check_queued_signal_move, QueuedSignalStatus(to), sources, fields
    )


def _move(queryset, kind: str, moves: dict, check, to, sources, fields: dict) -> int:
    sources = sorted(sources_of(moves, to) if sources is None else {str(s) for s in sources})
    for current in sources:
        check(current, to)  # a caller asking for a move the table forbids is a bug: raise before writing
    moved = queryset.filter(status__in=sources).update(status=to.value, **fields)
    if moved:
        logger.info("%s x%s: %s -> %s", kind, moved, "|".join(sources), to)
    return moved
