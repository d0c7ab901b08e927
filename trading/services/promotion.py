"""Queue promotion: when a slot frees (and on a beat schedule), waiting entries are routed again
in priority order: pyramid continuations, deepest loss versus their entry price, most replaced, oldest.
"""

import logging
from decimal import Decimal

from django.utils import timezone

from exchanges.connector import ExchangeError
from exchanges.models import ExchangeAccount
from exchanges.services.accounts import connector_for_account
from trading.models import QueuedSignal, Signal
from trading.pool import QueueCandidate, loss_percent, rank_queue
from trading.selectors import risk_config_of
from trading.services.routing import signal_route

logger = logging.getLogger(__name__)


def queue_promote_ready(*, user) -> int:
    """Try every waiting entry of ``user`` in priority order; returns how many left the queue."""
    entries: dict[object, QueuedSignal] = {  # by the QueueCandidates' (opaque) ids
        entry.pk: entry
        for entry in QueuedSignal.objects.filter(
            user=user, status=QueuedSignal.Status.QUEUED, expires_at__gt=timezone.now()
        )
    }
    if not entries:
        return 0
    risk = risk_config_of(user)
    if risk.engine_force_stopped:
        return 0
    prices = _current_prices(user, entries.values())
    candidates = [
        QueueCandidate(
            entry.pk,
            entry.is_pyramid_continuation,
            loss_percent(entry.side, entry.entry_price, prices.get((entry.exchange, entry.symbol))),
            entry.replacement_count,
            entry.queued_at,
        )
        for entry in entries.values()
    ]
    promoted = 0
    for candidate in rank_queue(candidates, risk.priority_rules):
        entry = entries[candidate.id]
        signal = signal_route(signal_id=entry.signal_id, queue_entry_id=entry.pk)
        if signal.status != Signal.Status.QUEUED:
            promoted += 1
    return promoted


def queue_promote(*, entry: QueuedSignal) -> Signal:
    """A trader's manual promote: open it now, past the pool limits (a force-stop still holds)."""
    return signal_route(signal_id=entry.signal_id, queue_entry_id=entry.pk, force=True)


def _current_prices(user, entries) -> dict[tuple[str, str], Decimal]:
    """One ticker call per exchange account for the queued symbols; a failing exchange gives no prices."""
    wanted: dict[str, set[str]] = {}
    for entry in entries:
        wanted.setdefault(entry.exchange, set()).add(entry.symbol)
    prices = {}
    for account in ExchangeAccount.objects.filter(user=user, exchange_id__in=wanted, is_enabled=True):
        try:
            tickers = connector_for_account(account).tickers(sorted(wanted[account.exchange_id]))
        except ExchangeError as exc:
            logger.warning("no prices for queue ranking on %s: %s", account.exchange_id, exc)
            continue
        prices.update({(account.exchange_id, symbol): ticker.last for symbol, ticker in tickers.items()})
    return prices
