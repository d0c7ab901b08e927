"""Writes about signals: store an accepted alert once, record a rejection, re-send unrouted signals,
prune old rejections.

An accepted alert is committed before it is handed to the broker, so a broker outage never loses
one: the sweep finds signals still ``received`` and never routed, and sends them again.
"""

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from trading.alerts import Alert
from trading.locks import lock_signals_skip_locked
from trading.models import Signal, User, WebhookRejectionTally
from trading.services import dispatch
from trading.services.transitions import signals_move
from trading.states import SignalStatus

logger = logging.getLogger(__name__)

# Routing normally starts within a second of the commit. A signal still unrouted a minute later
# lost its task (broker down at enqueue, worker killed mid-task); waiting a full minute keeps the
# sweep from doubling tasks that are merely queued behind a busy worker (a second run would be
# harmless, tasks are idempotent, but costs a routing pass).
SWEEP_FIRST_RESEND_AFTER_SECONDS = 60
# Each re-send waits twice as long as the one before: 1, 2, 4 and 8 minutes after arrival. After
# the 4th re-send goes unrouted for as long again (16 minutes after arrival, one bar of the common
# 15-minute chart) the alert belongs to a past bar: it is marked failed instead of traded late.
SWEEP_MAX_RESENDS = 4
# 500 per run: an hour-long broker outage at one alert every 10 s leaves 360 signals, re-sent in one
# sweep; publishing 500 messages to Redis takes ~0.2 s, well inside the 30 s between sweeps.
SWEEP_BATCH_SIZE = 500

REASON_MAX_CHARS = 2000
TALLY_REASON_MAX_CHARS = 200

# Pruning deletes in batches of 5,000 rows, each its own short transaction: measured ~0.6 s a batch
# of 4 KiB rejections on 2 busy cores. At most 40 batches per hourly run (~25 s, well inside the
# task time limit): 200,000 rows an hour, while stored refusals grow by at most
# WEBHOOK_REFUSALS_KEPT_PER_USER_PER_HOUR (100) per trader an hour; a backlog clears over a few runs.
PRUNE_BATCH_SIZE = 5_000
PRUNE_MAX_BATCHES = 40


def _resend_after(resends: int) -> timedelta:
    return timedelta(seconds=SWEEP_FIRST_RESEND_AFTER_SECONDS * 2**resends)


# The oldest entry alert still opened: 16 minutes, when the sweep gives up on an unrouted one.
# Routing refuses older entries too, so one that waited out an outage in the broker never opens late.
SIGNAL_MAX_AGE = _resend_after(SWEEP_MAX_RESENDS)


def body_dedupe_key(body: bytes) -> str:
    """sha256 of the raw body: the same alert resent by TradingView hashes the same."""
    return hashlib.sha256(body).hexdigest()


def signal_enqueue_routing(*, signal_id: uuid.UUID) -> bool:
    """Hand a committed signal to the workers. Never raises: a broker outage leaves it to the sweep."""
    return dispatch.route_signal(signal_id)


def _first_within_window(*, user: User, dedupe_key: str, replayable_until) -> Signal | None:
    """The accepted signal holding ``dedupe_key`` if it is still inside the dedupe window, or while the
    body (same bytes, same timestamp) would still pass the replay check (``replayable_until``): a body
    stamped ahead of the receiving clock stays replayable past ``received_at`` + the window.

    A holder older than the window gives up its key with a conditional UPDATE (only if it is still
    that old), so the caller can insert again; two concurrent callers cannot both win the insert.
    """
    first = Signal.objects.filter(user=user, dedupe_key=dedupe_key).only("id", "received_at").first()
    if first is None:
        return None  # released between our INSERT and this read: insert again
    cutoff = timezone.now() - timedelta(seconds=user.dedupe_window_seconds)
    if first.received_at >= cutoff or timezone.now() <= replayable_until:
        return first
    Signal.objects.filter(id=first.id, received_at__lt=cutoff).update(dedupe_key=None)
    return None


def signal_accept(
    *, user: User, body: bytes, payload: dict, alert: Alert, client_ip: str | None
) -> tuple[Signal, bool]:
    """Store an accepted alert and enqueue its routing once committed; ``(signal, created)``.

    A repeat of the same body for the same user within ``user.dedupe_window_seconds`` returns the
    first signal with ``created=False`` and enqueues nothing. Concurrent copies are settled by the
    unique constraint (user, dedupe_key): one INSERT wins, the others read the winner.
    ``payload`` is the body as stored (secret removed).
    """
    dedupe_key = body_dedupe_key(body)
    # Three tries: an INSERT, one more after releasing an expired key, one more should a concurrent
    # request have released it between our INSERT and our read.
    for attempt in range(3):
        try:
            with transaction.atomic():
                signal = Signal.objects.create(
                    user=user,
                    client_ip=client_ip,
                    dedupe_key=dedupe_key,
                    payload=payload,
                    http_status=202,
                    status=Signal.Status.RECEIVED,
                    intent=alert.intent,
                    exchange=alert.exchange,
                    tv_symbol=alert.tv_symbol,
                    timeframe=alert.timeframe,
                    side=alert.side,
                    entry_price=alert.entry_price,
                )
                transaction.on_commit(partial(signal_enqueue_routing, signal_id=signal.id), robust=True)
        except IntegrityError:
            if attempt == 2:
                raise
            first = _first_within_window(
                user=user,
                dedupe_key=dedupe_key,
                replayable_until=alert.timestamp + timedelta(seconds=user.replay_window_seconds),
            )
            if first is not None:
                logger.info("duplicate alert for user %s from %s: same body as signal %s", user.pk, client_ip, first.id)
                return first, False
            continue
        logger.info(
            "signal %s accepted: %s %s %s %sm %s @ %s from %s",
            signal.id,
            alert.intent,
            alert.exchange,
            alert.tv_symbol,
            alert.timeframe,
            alert.side,
            alert.entry_price,
            client_ip,
        )
        return signal, True
    raise AssertionError("unreachable")


def _labels(payload) -> dict:
    """Exchange and symbol of a rejected alert when they can be read, for the signals page."""
    tv = payload.get("tv") if isinstance(payload, dict) else None
    if not isinstance(tv, dict):
        return {}
    labels = {}
    for field, key, width in (("exchange", "exchange", 32), ("tv_symbol", "symbol", 64)):
        value = tv.get(key)
        if isinstance(value, str) and value.strip() and "{{" not in value:
            labels[field] = value.strip()[:width].lower() if field == "exchange" else value.strip()[:width]
    return labels


def signal_reject(
    *, user: User | None, client_ip: str | None, http_status: int, reason: str, payload: dict | None
) -> Signal:
    """Record a refused alert so its owner sees why on the signals page (``user=None``: unknown user).

    ``payload`` must already have the secret removed.
    """
    return Signal.objects.create(
        user=user,
        client_ip=client_ip,
        payload=payload,
        http_status=http_status,
        status=Signal.Status.REJECTED,
        reason=reason[:REASON_MAX_CHARS],
        **_labels(payload),
    )


def webhook_rejection_count(*, network: str, http_status: int, reason: str) -> None:
    """Count one refused request that is not stored (it named no known user, or its user's stored
    refusals are over the hour's allowance), in its (network, hour) row.

    One UPDATE in the common case; the first request of an hour inserts the row (a concurrent first
    loses the unique constraint and updates instead).
    """
    now = timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    reason = reason[:TALLY_REASON_MAX_CHARS]
    tally = WebhookRejectionTally.objects.filter(network=network, hour=hour)
    changes = {"count": F("count") + 1, "last_seen_at": now, "last_http_status": http_status, "last_reason": reason}
    if tally.update(**changes):
        return
    try:
        with transaction.atomic():
            WebhookRejectionTally.objects.create(
                network=network,
                hour=hour,
                count=1,
                first_seen_at=now,
                last_seen_at=now,
                last_http_status=http_status,
                last_reason=reason,
            )
    except IntegrityError:
        tally.update(**changes)


def refused_signals_prune(*, now: datetime | None = None) -> int:
    """Delete webhook rejections (stored and counted) older than ``REJECTED_SIGNAL_RETENTION_DAYS``;
    the number of signals deleted. 0 days keeps them forever.

    Only requests the webhook refused (HTTP status 400 and up): an accepted alert that routing then
    rejected (no account, no DCA configuration) is trading history and stays.
    """
    days = settings.REJECTED_SIGNAL_RETENTION_DAYS
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    old = Signal.objects.filter(status=Signal.Status.REJECTED, http_status__gte=400, received_at__lt=cutoff)
    deleted = 0
    for _ in range(PRUNE_MAX_BATCHES):
        batch = list(old.order_by().values_list("id", flat=True)[:PRUNE_BATCH_SIZE])
        if not batch:
            break
        deleted += Signal.objects.filter(id__in=batch).delete()[1].get(Signal._meta.label, 0)
    WebhookRejectionTally.objects.filter(hour__lt=cutoff).delete()
    if deleted:
        logger.info("pruned %s refused webhook request(s) older than %s days", deleted, days)
    return deleted


@dataclass(frozen=True)
class SweepResult:
    resent: list[uuid.UUID]
    failed: list[uuid.UUID]


def signal_sweep(*, now: datetime | None = None) -> SweepResult:
    """Re-send to the workers signals still ``received`` and never routed; give up after the bound.

    A signal is due for its (n+1)-th re-send once it is ``60 s × 2**n`` old (n = re-sends so far,
    counted in ``routing_attempts``); after ``SWEEP_MAX_RESENDS`` re-sends and as long again, it is
    marked ``failed`` with a reason. Rows a routing task holds locked are skipped (SKIP LOCKED) and
    every write re-checks the status, so a signal being routed right now is left alone.
    """
    now = now or timezone.now()
    unrouted = Signal.objects.filter(status=Signal.Status.RECEIVED, routed_at__isnull=True)

    give_up_age = SIGNAL_MAX_AGE
    with transaction.atomic():
        failed = lock_signals_skip_locked(
            unrouted.filter(routing_attempts__gte=SWEEP_MAX_RESENDS, received_at__lt=now - give_up_age),
            limit=SWEEP_BATCH_SIZE,
        )
        if failed:
            minutes = give_up_age.total_seconds() / 60
            signals_move(
                unrouted.filter(id__in=failed),
                sources=[SignalStatus.RECEIVED],
                to=SignalStatus.FAILED,
                reason=(
                    f"Not routed within {minutes:.0f} minutes of arrival although re-sent to the workers "
                    f"{SWEEP_MAX_RESENDS} times: no worker took it (is a worker running? see /healthz). "
                    "Not traded late; send the alert again if it still applies."
                ),
            )
            for signal_id in failed:
                logger.error("signal %s failed: never routed, re-sent %s times", signal_id, SWEEP_MAX_RESENDS)

    due = Q()
    for resends in range(SWEEP_MAX_RESENDS):
        due |= Q(routing_attempts=resends, received_at__lt=now - _resend_after(resends))
    with transaction.atomic():
        resent = lock_signals_skip_locked(unrouted.filter(due), limit=SWEEP_BATCH_SIZE)
        if resent:
            unrouted.filter(id__in=resent).update(routing_attempts=F("routing_attempts") + 1)
            for signal_id in resent:
                transaction.on_commit(partial(signal_enqueue_routing, signal_id=signal_id), robust=True)
            logger.warning("signal sweep re-sent %s unrouted signal(s) to the workers", len(resent))
    return SweepResult(resent=resent, failed=failed)
