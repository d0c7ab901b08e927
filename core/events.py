"""Domain events from the trading and risk code, delivered to the registered sinks after commit.

``emit`` is what trading code calls at the moments a trader cares about. It decides nothing about
Telegram and never raises: it turns the event into plain JSON and, once the surrounding
transaction commits (at once outside one), hands it to every sink that wants the trader's events.
A rolled-back decision therefore never notifies, and trading never waits for a sink or fails
because of one.

Sinks are registered by the apps that consume events, from their ``AppConfig.ready()``
(notifications: ``notifications.sink``), so this module imports none of them. A sink's ``wants``
is asked at emit time for a trader's events (cheaply: the notifications sink caches its answer);
its ``deliver`` runs after commit and should only enqueue.

Event types (and their data):
  entry (group)                        a position group was opened
  pyramid (group, pyramid_index)       a pyramid was added
  order_filled (group, order_id, role) an order filled completely (entry leg, take-profit, exit)
  status (group, from_status, to_status, reason)
  exit (group, reason)                 the group closed
  risk (group, event, detail)          timer_started / timer_expired / timer_reset / offset_executed
  failure (group or user, message)
  pnl (group)                          statistics refreshed at a new price: threshold alerts check it
"""

import logging
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import NamedTuple

from django.db import transaction

logger = logging.getLogger(__name__)


class Sink(NamedTuple):
    """Where events go: ``deliver(event_type, user_id, group_id, data)`` after commit, for the traders
    ``wants(user_id)`` says yes to (an event without a user, only a group's primary key, always goes)."""

    deliver: Callable[[str, str | None, str | None, dict], None]
    wants: Callable[[str], bool]


_sinks: list[Sink] = []


def register_sink(
    deliver: Callable[[str, str | None, str | None, dict], None], *, wants: Callable[[str], bool] = lambda user_id: True
) -> None:
    """Send events to ``deliver`` from now on (once, however often an app's ``ready()`` runs)."""
    sink = Sink(deliver, wants)
    if sink not in _sinks:
        _sinks.append(sink)


def _plain(value):
    if isinstance(value, (Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _pk(value):
    return None if value is None else str(getattr(value, "pk", value))


def emit(event_type: str, *, group=None, user=None, **data) -> None:
    """Record that ``event_type`` happened; the sinks pick it up after commit. Never raises.

    ``group`` and ``user`` may be model instances or primary keys; with only a group, the sink
    finds its owner.
    """
    try:
        group_id = _pk(group)
        user_id = _pk(user) if user is not None else (str(group.user_id) if hasattr(group, "user_id") else None)
        if group_id is None and user_id is None:
            return
        sinks = [sink for sink in _sinks if user_id is None or sink.wants(user_id)]
        if not sinks:
            return
        payload = _plain(data)
        transaction.on_commit(lambda: _deliver(sinks, event_type, user_id, group_id, payload))
    except Exception:  # a notification must never break a trade
        logger.exception("could not record the %s event", event_type)


def _deliver(sinks: list[Sink], event_type: str, user_id, group_id, data: dict) -> None:
    for sink in sinks:
        try:
            sink.deliver(event_type, user_id, group_id, data)
        except Exception:  # a sink's failure (a broker down, say): the trade stands, the other sinks still get it
            logger.warning("could not deliver the %s event", event_type, exc_info=True)
