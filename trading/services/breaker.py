"""The daily-loss circuit breaker: today's net realised loss at ``max_realized_loss_usd`` pauses new
entries (closes, take-profits and the risk engine carry on); a new day (the user's time zone) lifts it.

One function, called from both places that look at today's loss: routing, before an entry takes a
pool slot (``trading.services.routing``), and every risk evaluation (``risk.evaluation``). Both hold
the user's routing lock (``trading.locks.lock_user_routing``), so the flag flips once and its record
is written once, by whichever path sees the change first.

Until issue 17 routing flipped the flag silently and only the evaluation wrote the record: when
routing saw the limit first, the evaluation found the flag already set and no "engine_paused"
record was ever written. Nothing depended on that; both paths now write it the same way.
"""

import logging
from decimal import Decimal

from django.utils import timezone

from trading import journal

logger = logging.getLogger(__name__)


def daily_loss_breaker(risk, *, user, loss_usd: Decimal) -> bool:
    """Pause (or, on a new day, un-pause) new entries of ``user`` from today's realised loss
    ``loss_usd`` (a positive number); returns whether the limit is hit.

    ``risk`` is the user's ``RiskConfig`` row, locked by the caller (``lock_user_routing``); it is
    updated in place. A trip writes the "engine_paused" record; lifting it writes none.
    """
    hit = loss_usd >= risk.max_realized_loss_usd
    if hit == risk.engine_paused_by_loss_limit:
        return hit
    risk.engine_paused_by_loss_limit, risk.paused_at = hit, timezone.now() if hit else None
    risk.save(update_fields=["engine_paused_by_loss_limit", "paused_at"])
    if hit:
        journal.engine_paused(user, loss_usd=loss_usd, max_realized_loss_usd=risk.max_realized_loss_usd)
        logger.warning("user %s: new entries paused by the daily loss limit (%.2f USD lost today)", user.pk, loss_usd)
    return hit
