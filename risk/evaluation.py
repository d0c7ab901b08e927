"""One risk evaluation of one trader: timers, the daily loss circuit breaker, and the loss offset.

Runs holding the user's risk-config row lock (the lock that also serialises their signal routing),
so an evaluation never interleaves with a routing decision. It reads the positions' stored
statistics (kept current by the price sync), steps every timer, and when a loser is eligible and
the winners can pay for it, marks the closes and records it in the journal; the loser's full close
and the winners' partial closes are dispatched together after commit, as one Celery group, so they
reach the exchange at the same moment rather than one after another.
"""

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from core.events import emit
from exchanges.models import ExchangeAccount
from risk.selection import OffsetPlan, ineligibility, plan_offset, select_loser, select_winners
from risk.selectors import filled_pyramid_counts, pyramids_complete, risk_candidate, with_market_precision
from risk.timers import TimerState, timer_step
from trading import journal
from trading.locks import lock_user_groups, lock_user_routing, lock_waiting_offsets
from trading.models import ExitReason, PositionGroup, RiskConfig
from trading.selectors import realized_loss_today_usd
from trading.services import dispatch as enqueue  # "dispatch" is risk_evaluate's flag here
from trading.services.breaker import daily_loss_breaker
from trading.services.closing import position_close_request
from trading.states import GROUP_TRADING_STATUSES

logger = logging.getLogger(__name__)

EVALUATED = GROUP_TRADING_STATUSES
TIMER_RECORDS = {
    "timer_started": journal.timer_started,
    "timer_expired": journal.timer_expired,
    "timer_reset": journal.timer_reset,
}


@dataclass
class Evaluation:
    user_id: object
    loser_id: object | None = None
    winners: list = field(default_factory=list)  # (group id, quantity, profit)
    required_usd: Decimal = Decimal(0)
    covered_usd: Decimal = Decimal(0)
    executed: bool = False
    reason: str = ""
    timer_events: int = 0
    ineligible: dict = field(default_factory=dict)  # group id -> why it is not the loser


def risk_evaluate(*, user, now: datetime | None = None, dispatch: bool = True) -> Evaluation:
    now = now or timezone.now()
    result = Evaluation(user.pk)
    with transaction.atomic():
        risk = lock_user_routing(user)
        daily_loss_breaker(risk, user=user, loss_usd=realized_loss_today_usd(user))
        groups = lock_user_groups(user, EVALUATED)
        filled = filled_pyramid_counts(groups)
        candidates = []
        for group in groups:
            result.timer_events += _step_timer(group, risk, now, filled.get(group.pk, 0))
            candidates.append(risk_candidate(group, risk, filled.get(group.pk, 0)))
        result.ineligible = {c.id: ineligibility(c, risk.loss_threshold_percent) for c in candidates}
        loser = select_loser(candidates, risk.loss_threshold_percent)
        skipped = [g.pk for g in groups if g.risk_skip_once]
        if skipped:  # skip-once is consumed by the evaluation it skipped
            PositionGroup.objects.filter(pk__in=skipped).update(risk_skip_once=False)
        if loser is not None:
            loser_group = next(g for g in groups if g.pk == loser.id)
            loser = replace(
                loser,
                taker_fee_percent=ExchangeAccount.objects.values_list("taker_fee_percent", flat=True).get(
                    pk=loser_group.exchange_account_id
                ),
            )
            winners = with_market_precision(
                select_winners(candidates, loser_id=loser.id, limit=risk.max_winners_to_combine),
                {g.pk: g for g in groups},
            )
            plan = plan_offset(loser, winners)
            result.loser_id, result.required_usd, result.covered_usd = loser.id, plan.required_usd, plan.covered_usd
            result.winners = [(c.id, c.quantity, c.profit_usd) for c in plan.closes]
            if plan.fully_covered or (risk.allow_partial_offset and plan.closes):
                _execute(user, next(g for g in groups if g.pk == loser.id), plan, groups, now, dispatch)
                result.executed = True
                result.reason = "offset executed"
            else:
                result.reason = (
                    f"winners cover {plan.covered_usd:.2f} of the {plan.required_usd:.2f} USD loss; "
                    f"waiting (allow_partial_offset is off)"
                )
        else:
            result.reason = "no eligible loser"
        RiskConfig.objects.filter(pk=risk.pk).update(last_evaluated_at=now)
    return result


def _step_timer(group: PositionGroup, risk: RiskConfig, now: datetime, filled_pyramids: int) -> int:
    state = TimerState(group.risk_timer_start, group.risk_timer_expires, group.risk_eligible)
    step = timer_step(
        state,
        now=now,
        pyramids_complete=pyramids_complete(group, risk.required_pyramids_for_timer, filled_pyramids),
        loss_percent=group.unrealized_pnl_percent,
        threshold_percent=risk.loss_threshold_percent,
        wait_minutes=risk.post_pyramids_wait_minutes,
    )
    if step.event is None:
        return 0
    group.risk_timer_start, group.risk_timer_expires, group.risk_eligible = (
        step.state.started_at,
        step.state.expires_at,
        step.state.eligible,
    )
    PositionGroup.objects.filter(pk=group.pk).update(
        risk_timer_start=group.risk_timer_start,
        risk_timer_expires=group.risk_timer_expires,
        risk_eligible=group.risk_eligible,
    )
    TIMER_RECORDS[step.event](group)
    emit("risk", group=group, event=step.event, wait_minutes=risk.post_pyramids_wait_minutes)
    return 1


def _execute(user, loser: PositionGroup, plan: OffsetPlan, groups, now, dispatch: bool) -> None:
    by_id = {g.pk: g for g in groups}
    position_close_request(group=loser, reason=ExitReason.RISK_OFFSET)
    details = [
        {
            "group_id": str(close.id),
            "symbol": by_id[close.id].symbol,
            "quantity_closed": _plain(close.quantity),
            "pnl_usd": _plain(close.profit_usd),
            "price": _plain(close.price),
        }
        for close in plan.closes
    ]
    journal.offset_recorded(
        loser,
        required_usd=plan.required_usd,
        covered_usd=plan.covered_usd,
        winner_details=details,
        exit_reason=ExitReason.RISK_OFFSET,
        now=now,
    )
    logger.info("risk offset for user %s: loser %s, winners %s", user.pk, loser.pk, [d["symbol"] for d in details])
    emit("risk", group=loser, event="offset_executed", covered_usd=plan.covered_usd, required_usd=plan.required_usd)
    if dispatch:
        # Close before reduce: only the loser now; the winners once its exit has filled
        # (offset_winners_release, called when the loser's group closes or its close fails).
        transaction.on_commit(lambda: enqueue.close_position(loser.pk, ExitReason.RISK_OFFSET))


def _plain(number: Decimal) -> str:
    return f"{number.normalize():f}"


def offset_winners_release(*, loser_group_id, loser_closed: bool, reason: str = "") -> int:
    """The loser's close ended: reduce the winners it was waiting for (closed), or leave them untouched
    and say why (the close failed). Safe to call twice: each offset's winners go once. Returns how many
    winner closes were dispatched."""
    released: list[tuple[str, str | None, str | None]] = []  # (winner group id, quantity, request key)
    with transaction.atomic():
        for offset in lock_waiting_offsets(loser_group_id):
            if loser_closed:
                released += [
                    (d["group_id"], d["quantity_closed"], f"offset-{offset.pk}") for d in offset.winner_details
                ]
                journal.offset_winners_dispatched(offset)
            else:
                journal.offset_winners_cancelled(offset, reason=reason)
        if released:
            transaction.on_commit(lambda: enqueue.close_positions_together(released, ExitReason.RISK_OFFSET))
    return len(released)
