"""The engine's row locks, by name: the only place that calls ``select_for_update`` on trading's rows.

Every function locks until the end of the caller's transaction (call inside ``transaction.atomic``).

Lock order — a transaction that takes several takes them top to bottom, never upwards, so two
workers can never wait on each other:

1. ``lock_user_routing(user)`` — the per-user mutex: the user's ``RiskConfig`` row (created if
   missing). It serialises one user's signal routing, risk evaluation and risk-setting changes while
   other users go on in parallel.
2. ``lock_signal(signal_id)`` — the signal being routed (its status is re-read under the lock).
3. ``lock_queued_signal(entry_id)`` / ``lock_queued_signal_for(...)`` — a queue entry being promoted,
   replaced or dropped.
4. ``lock_group(group_id)`` / ``lock_active_group(...)`` / ``lock_user_groups(user, statuses)`` — position
   groups; several at once always in primary-key order. ``with_account`` also locks the group's
   exchange-account row (the sell budget's lock, as taken today).
5. ``lock_order(order_id)`` — an order, always after its group (``lock_group_of(order)`` first).
6. ``lock_waiting_offsets(loser_group_id)`` — the journal's loss offsets waiting for that loser's
   close; taken when the close ends, after the loser's group.

The sweeps do not wait: ``lock_signals_skip_locked`` takes a batch of rows, skipping those another
transaction holds (a routing task), so a sweep never blocks on — or doubles — work in progress.

Locks outside this module, on rows trading does not own: the paper exchange's balances, orders and
prices (``exchanges.paper``, taken inside its own calls) and the Telegram configuration
(``notifications.services``). Neither is held while taking one of the locks above.
"""

from django.db.models import QuerySet

from trading.models import JournalEntry, Order, PositionGroup, QueuedSignal, RiskConfig, Signal
from trading.selectors import active_groups


def lock_user_routing(user) -> RiskConfig:
    """Lock 1: the user's ``RiskConfig`` row (created if missing), returned fresh from the database."""
    risk, _ = RiskConfig.objects.select_for_update().get_or_create(user=user)
    return risk


def lock_signal(signal_id) -> Signal:
    """Lock 2: the signal."""
    return Signal.objects.select_for_update().get(pk=signal_id)


def lock_queued_signal(entry_id) -> QueuedSignal:
    """Lock 3: one queue entry by id."""
    return QueuedSignal.objects.select_for_update().get(pk=entry_id)


def lock_queued_signal_for(*, user, exchange: str, symbol: str, timeframe: int, side: str) -> QueuedSignal | None:
    """Lock 3: the waiting (``queued``) entry of this key, if any (the database allows one)."""
    return (
        QueuedSignal.objects.select_for_update()
        .filter(
            user=user,
            exchange=exchange,
            symbol=symbol,
            timeframe=timeframe,
            side=side,
            status=QueuedSignal.Status.QUEUED,
        )
        .first()
    )


def lock_group(group_id, *, user=None, with_account: bool = False) -> PositionGroup:
    """Lock 4: one position group (raises ``PositionGroup.DoesNotExist``; ``user`` limits it to that
    user's groups). ``with_account`` locks its exchange-account row too and loads it."""
    groups = PositionGroup.objects.select_for_update()
    if with_account:
        groups = groups.select_related("exchange_account")
    if user is not None:
        groups = groups.filter(user=user)
    return groups.get(pk=group_id)


def lock_active_group(*, user, exchange: str, symbol: str, timeframe: int, side: str) -> PositionGroup | None:
    """Lock 4: the one active group of this identity (the database allows at most one), if any."""
    return (
        active_groups(user)
        .filter(exchange=exchange, symbol=symbol, timeframe=timeframe, side=side)
        .select_for_update(of=("self",))
        .first()
    )


def lock_user_groups(user, statuses) -> list[PositionGroup]:
    """Lock 4: every group of ``user`` in ``statuses``, in primary-key order."""
    return list(
        PositionGroup.objects.select_for_update(of=("self",)).filter(user=user, status__in=statuses).order_by("pk")
    )


def lock_group_of(order: Order) -> None:
    """Lock 4 before lock 5: the order's group, if it still exists."""
    PositionGroup.objects.select_for_update().filter(pk=order.group_id).first()


def lock_order(order_id) -> Order:
    """Lock 5: one order (take ``lock_group_of`` first)."""
    return Order.objects.select_for_update().get(pk=order_id)


def lock_waiting_offsets(loser_group_id) -> list[JournalEntry]:
    """Lock 6: the loss offsets whose winners wait for this loser's close (``winners_state`` waiting)."""
    return list(
        JournalEntry.objects.select_for_update()
        .filter(
            kind=JournalEntry.Kind.OFFSET_LOSS,
            loser_group_id=loser_group_id,
            winners_state=JournalEntry.WinnersState.WAITING,
        )
        .order_by("pk")
    )


def lock_signals_skip_locked(signals: QuerySet, *, limit: int) -> list:
    """The ids of up to ``limit`` signals of the queryset, oldest first, locked; rows another
    transaction holds are skipped (SKIP LOCKED), not waited for."""
    return list(
        signals.order_by("received_at").select_for_update(skip_locked=True).values_list("id", flat=True)[:limit]
    )
