"""The execution queue: entries waiting for a pool slot, replaced, promoted, expired or dropped."""

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from trading.errors import QueueEntryNotQueued
from trading.locks import lock_queued_signal_for
from trading.models import QueuedSignal, Signal
from trading.services.transitions import queued_signals_move, signal_transition, signals_move
from trading.states import QueuedSignalStatus, SignalStatus

logger = logging.getLogger(__name__)


def queue_signal(
    *, signal: Signal, symbol: str, side: str, is_pyramid_continuation: bool, reason: str, ttl_minutes: int
) -> QueuedSignal:
    """Queue an entry (call holding the user's routing lock). A newer signal for the key replaces the old."""
    # A routed signal is an accepted one: signal_accept stored its user and the alert's timeframe and price.
    assert signal.user is not None and signal.timeframe is not None and signal.entry_price is not None
    now = timezone.now()
    existing = lock_queued_signal_for(
        user=signal.user, exchange=signal.exchange, symbol=symbol, timeframe=signal.timeframe, side=side
    )
    if existing is None:
        entry = QueuedSignal.objects.create(
            user=signal.user,
            signal=signal,
            exchange=signal.exchange,
            symbol=symbol,
            timeframe=signal.timeframe,
            side=side,
            entry_price=signal.entry_price,
            is_pyramid_continuation=is_pyramid_continuation,
            status_reason=reason,
            expires_at=now + timedelta(minutes=ttl_minutes),
        )
    else:
        replaced = existing.signal
        signals_move(
            Signal.objects.filter(pk=replaced.pk),
            sources=[SignalStatus.QUEUED],
            to=SignalStatus.IGNORED,
            reason=f"Replaced in the queue by a newer signal ({signal.pk}).",
        )
        existing.signal = signal
        existing.entry_price = signal.entry_price
        existing.is_pyramid_continuation = is_pyramid_continuation
        existing.replacement_count += 1
        existing.status_reason = reason
        existing.expires_at = now + timedelta(minutes=ttl_minutes)
        existing.save()
        entry = existing
    signal_transition(signal, to=SignalStatus.QUEUED, reason=f"Queued: {reason}.")
    return entry


def queue_resolve(
    entry: QueuedSignal, *, status: QueuedSignalStatus, reason: str, signal_status: SignalStatus | None = None
) -> None:
    """End a queue entry still queued (promoted, expired, cancelled) and, unless promoted, its signal too."""
    queued_signals_move(
        QueuedSignal.objects.filter(pk=entry.pk), sources=[QueuedSignalStatus.QUEUED], to=status, reason=reason
    )
    if signal_status:
        signals_move(
            Signal.objects.filter(pk=entry.signal_id), sources=[SignalStatus.QUEUED], to=signal_status, reason=reason
        )


def queue_cancel(*, entry: QueuedSignal, reason: str = "Removed from the queue by the trader.") -> None:
    with transaction.atomic():
        queue_resolve(entry, status=QueuedSignal.Status.CANCELLED, reason=reason, signal_status=Signal.Status.IGNORED)


def queue_remove(*, entry: QueuedSignal) -> QueuedSignal:
    """The trader's remove of a waiting entry (page and API). Raises ``QueueEntryNotQueued`` when the entry
    had left the queue, before the request or meanwhile (promoted or expired while we were asked)."""
    if entry.status != QueuedSignal.Status.QUEUED:
        raise QueueEntryNotQueued(entry)
    queue_cancel(entry=entry)
    entry.refresh_from_db()
    if entry.status != QueuedSignal.Status.CANCELLED:
        raise QueueEntryNotQueued(entry)
    return entry


def queue_expire(*, now=None) -> int:
    """Expire every queued entry past its time to live; returns how many."""
    now = now or timezone.now()
    expired = 0
    for entry in QueuedSignal.objects.filter(status=QueuedSignal.Status.QUEUED, expires_at__lte=now):
        with transaction.atomic():
            queue_resolve(
                entry,
                status=QueuedSignal.Status.EXPIRED,
                reason="Expired in the queue before a slot freed (queue_ttl_minutes).",
                signal_status=Signal.Status.IGNORED,
            )
        expired += 1
    return expired
