"""Reads of the risk app: the risk engine's picture of a trader's positions, without changing anything.

``risk_status`` answers "what would the engine do if it ran now?": it steps every timer in memory
(``risk.timers.timer_step``, nothing written), builds the same ``Candidate`` values as
``risk.evaluation.risk_evaluate`` and runs the same pure selection (``risk.selection``), so the loser,
the winners and the quantities it shows are the ones an evaluation at that moment would act on.

The candidate helpers here (``filled_pyramid_counts``, ``risk_candidate``, ``with_market_precision``)
are the one definition both sides use. Nothing here imports ``risk.evaluation``, so that import
cannot become a cycle.
"""

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from django.db.models import Q, QuerySet
from django.utils import timezone

from exchanges.models import ExchangeAccount
from exchanges.services.accounts import connector_for_account
from risk.selection import Candidate, OffsetPlan, WinnerClose, ineligibility, plan_offset, select_loser, select_winners
from risk.timers import TimerState, timer_step
from trading.models import JournalEntry, PositionGroup, Pyramid, RiskConfig
from trading.selectors import realized_loss_today_usd, risk_config_of
from trading.states import GROUP_ACTIVE_STATUSES, GROUP_TRADING_STATUSES

# The statuses risk_evaluate steps timers for and builds candidates from (risk.evaluation.EVALUATED).
EVALUATED_STATUSES = GROUP_TRADING_STATUSES


# --- Candidates: one definition for the evaluation and the status ------------------------------------


def pyramids_complete(group: PositionGroup, required: int, filled_pyramids: int) -> bool:
    """The first ``required`` pyramids (or all the group may have) have every entry leg filled."""
    return filled_pyramids >= min(required, group.max_pyramids)


def filled_pyramid_counts(groups: list[PositionGroup]) -> dict:
    """Completely filled pyramids per group id (one query for all the groups)."""
    counts: dict = {}
    filled = Pyramid.objects.filter(group__in=groups, status=Pyramid.Status.FILLED)
    for group_id in filled.values_list("group_id", flat=True):
        counts[group_id] = counts.get(group_id, 0) + 1
    return counts


def risk_candidate(
    group: PositionGroup, risk: RiskConfig, filled_pyramids: int, *, timer_expired: bool | None = None
) -> Candidate:
    """The group as the pure selection sees it; ``timer_expired`` defaults to the stored ``risk_eligible``."""
    return Candidate(
        id=group.pk,
        side=group.side,
        status=group.status,
        unrealized_pnl_usd=group.unrealized_pnl_usd * (group.quote_usd_rate or 0),
        usd_rate=group.quote_usd_rate,
        unrealized_pnl_percent=group.unrealized_pnl_percent,
        created_at=group.created_at,
        blocked=group.risk_blocked,
        skip_once=group.risk_skip_once,
        pyramids_complete=pyramids_complete(group, risk.required_pyramids_for_timer, filled_pyramids),
        timer_expired=group.risk_eligible if timer_expired is None else timer_expired,
        held_quantity=group.total_filled_quantity,
        average_entry=group.weighted_avg_entry,
        current_price=group.current_price,
    )


def with_market_precision(
    winners: list[Candidate], groups_by_id: dict, *, loaded_only: bool = False
) -> list[Candidate]:
    """Winners with their market's lot size and minimums (``loaded_only``: from market lists this server
    already holds, never downloading one: for web requests).

    ``groups_by_id`` maps each winner's id to its group. Accounts not already loaded with the groups
    are read in one query, and each account gets one connector, so a market list is loaded once per
    call rather than once per winner (per winner, the cost was a query for the group, a connector
    and a fresh market list: 9 of an offset evaluation's 19 queries with three winners).
    Raises ``ExchangeError`` (``BadSymbol`` included) when a market cannot be read.
    """
    groups = [groups_by_id[winner.id] for winner in winners]
    loaded = {g.exchange_account_id: g.exchange_account for g in groups if PositionGroup.exchange_account.is_cached(g)}
    accounts = {**ExchangeAccount.objects.in_bulk({g.exchange_account_id for g in groups} - set(loaded)), **loaded}
    connectors: dict = {}
    enriched = []
    for winner, group in zip(winners, groups, strict=True):
        account_id = group.exchange_account_id
        if account_id not in connectors:
            connectors[account_id] = connector_for_account(accounts[account_id])
        connector = connectors[account_id]
        market = connector.loaded_market(group.symbol) if loaded_only else connector.market(group.symbol)
        enriched.append(
            replace(
                winner,
                step_size=market.step_size,
                min_qty=market.min_qty,
                min_notional=market.min_notional,
                taker_fee_percent=accounts[account_id].taker_fee_percent,
            )
        )
    return enriched


# --- The status ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PositionRisk:
    """One open position as the risk engine sees it now."""

    group: PositionGroup
    filled_pyramids: int
    pyramids_complete: bool
    # What the next evaluation would record for this group's timer (timer_started / timer_expired /
    # timer_reset), None when its timer stays as stored.
    pending_timer_event: str | None
    eligible: bool
    reason: str | None  # why it cannot be the loser now; None when it can


@dataclass(frozen=True)
class WinnerPreview:
    group: PositionGroup
    close: WinnerClose


@dataclass(frozen=True)
class RiskStatus:
    risk: RiskConfig
    realized_loss_today_usd: Decimal
    positions: list[PositionRisk]
    loser: PositionGroup | None
    plan: OffsetPlan | None
    winners: list[WinnerPreview]
    would_execute: bool
    reason: str
    as_of: datetime


def risk_status(*, user, now: datetime | None = None) -> RiskStatus:
    """The engine's state, each open position's timer and eligibility, and the offset an evaluation now
    would make. Reads only: no timer, flag or audit row is written, and no row is locked. It is read by
    web requests, so the winners' markets come from the lists this server holds; it never asks the exchange.

    Raises ``ExchangeError`` (``MarketsNotLoaded``) when a winner's market list is not on this server.
    """
    now = now or timezone.now()
    risk = risk_config_of(user)
    groups = list(
        PositionGroup.objects.filter(user=user, status__in=[s.value for s in GROUP_ACTIVE_STATUSES])
        .select_related("exchange_account")
        .order_by("pk")
    )
    filled = filled_pyramid_counts(groups)
    threshold = risk.loss_threshold_percent
    positions, evaluated = [], []
    for group in groups:
        filled_pyramids = filled.get(group.pk, 0)
        complete = pyramids_complete(group, risk.required_pyramids_for_timer, filled_pyramids)
        event, expired = None, group.risk_eligible
        if group.status in EVALUATED_STATUSES:  # the evaluation steps these timers before it selects
            step = timer_step(
                TimerState(group.risk_timer_start, group.risk_timer_expires, group.risk_eligible),
                now=now,
                pyramids_complete=complete,
                loss_percent=group.unrealized_pnl_percent,
                threshold_percent=threshold,
                wait_minutes=risk.post_pyramids_wait_minutes,
            )
            event, expired = step.event, step.state.eligible
        candidate = risk_candidate(group, risk, filled_pyramids, timer_expired=expired)
        why = ineligibility(candidate, threshold)
        if group.status in EVALUATED_STATUSES:
            evaluated.append(candidate)
        positions.append(PositionRisk(group, filled_pyramids, complete, event, why is None, why))
    positions.sort(key=lambda p: (p.group.unrealized_pnl_percent, p.group.created_at))  # worst first

    by_id: dict[object, PositionGroup] = {g.pk: g for g in groups}  # the Candidates' (opaque) ids
    loser = select_loser(evaluated, threshold)
    plan, previews, would_execute = None, [], False
    if loser is None:
        reason = "no eligible loser"
    else:
        winners = select_winners(evaluated, loser_id=loser.id, limit=risk.max_winners_to_combine)
        plan = plan_offset(loser, with_market_precision(winners, by_id, loaded_only=True))
        previews = [WinnerPreview(by_id[close.id], close) for close in plan.closes]
        would_execute = plan.fully_covered or (risk.allow_partial_offset and bool(plan.closes))
        if would_execute:
            reason = "offset would execute"
        else:  # the words of risk_evaluate's reason, so the page and the evaluation agree
            reason = (
                f"winners cover {plan.covered_usd:.2f} of the {plan.required_usd:.2f} USD loss; "
                f"waiting (allow_partial_offset is off)"
            )
    return RiskStatus(
        risk=risk,
        realized_loss_today_usd=realized_loss_today_usd(user),
        positions=positions,
        loser=by_id[loser.id] if loser else None,
        plan=plan,
        winners=previews,
        would_execute=would_execute,
        reason=reason,
        as_of=now,
    )


# --- Records ------------------------------------------------------------------------------------------


def risk_actions(*, user, action_types: list[str] | None = None, group_id=None) -> QuerySet[JournalEntry]:
    """The user's journal entries (the risk engine's and the traders' actions), newest first. ``action_types``
    are journal kinds. ``group_id`` matches the group an action is about, the loser of an offset, and a
    winner an offset reduced (listed in ``winner_details``)."""
    actions = JournalEntry.objects.filter(user=user).select_related("group").order_by("-created_at", "-pk")
    if action_types:
        actions = actions.filter(kind__in=action_types)
    if group_id is not None:
        # winner_details holds ids as text; a UUID's text cannot match anything but that UUID.
        actions = actions.filter(
            Q(group_id=group_id) | Q(loser_group_id=group_id) | Q(winner_details__icontains=str(group_id))
        )
    return actions


def user_groups_by_id(*, user, ids) -> dict:
    """The user's groups with these ids, by id (for naming the groups an evaluation reported)."""
    return {g.pk: g for g in PositionGroup.objects.filter(user=user, pk__in=list(ids))}


def engine_label(risk: RiskConfig) -> str:
    """The engine's state in two or three words: running, force-stopped, paused by loss limit."""
    if risk.engine_force_stopped:
        return "force-stopped"
    if risk.engine_paused_by_loss_limit:
        return "paused by loss limit"
    return "running"


def engine_state(risk: RiskConfig) -> dict:
    if risk.engine_force_stopped:
        message = "Force-stopped: new entries are queued until you start the engine; open positions carry on."
    elif risk.engine_paused_by_loss_limit:
        message = (
            "Started, but new entries stay paused by the daily loss limit (max_realized_loss_usd) until "
            "tomorrow, or until you raise the limit."
        )
    else:
        message = "Running: new entries open when a pool slot is free."
    return {
        "engine_force_stopped": risk.engine_force_stopped,
        "engine_paused_by_loss_limit": risk.engine_paused_by_loss_limit,
        "message": message,
    }
