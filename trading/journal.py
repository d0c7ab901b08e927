"""The engine's journal: one named writer for each kind of entry. Nothing else creates ``JournalEntry`` rows.

Each writer stores the numbers in the entry's columns and what the wording needs in ``details`` (a
snapshot: the position may be deleted later, its entries stay); ``JournalEntry.summary`` renders the
text (``trading.journal_text``). Writers run inside the caller's transaction: an entry is written
with the change it records, or not at all. Decimals go into ``details`` as strings.
"""

from decimal import Decimal

from django.utils import timezone

from trading.models import JournalEntry, PositionGroup

Kind = JournalEntry.Kind


def _position(group: PositionGroup) -> dict:
    return {"side": str(group.side), "symbol": group.symbol, "timeframe": group.timeframe}


def _text(value) -> str | None:
    return None if value is None else str(value)


# --- Positions -------------------------------------------------------------------------------------


def trade_closed(group: PositionGroup, *, reason: str, quantity_closed: Decimal, exit_value: Decimal) -> JournalEntry:
    """The group closed (``reason``, an ``ExitReason``): its average exit price over ``quantity_closed``
    sold for ``exit_value``, its realised PnL in USD and as a percent of what those units cost, its
    duration."""
    invested = (group.weighted_avg_entry or 0) * quantity_closed
    return JournalEntry.objects.create(
        user_id=group.user_id,
        kind=Kind.CLOSE,
        group=group,
        exit_reason=reason,
        entry_price=group.weighted_avg_entry,
        exit_price=exit_value / quantity_closed if quantity_closed else None,
        quantity_closed=quantity_closed,
        realized_pnl_usd=group.realized_pnl_usd,
        pnl_percent=group.realized_pnl_usd / invested * 100 if invested else None,
        duration_seconds=int((timezone.now() - group.created_at).total_seconds()),
        details=_position(group),
    )


def position_lost(
    group: PositionGroup, *, reason: str, quantity_closed: Decimal, exit_value: Decimal, lost: dict
) -> JournalEntry:
    """The exchange closed the group's position, not the engine (``reason`` liquidated or closed on
    exchange): a close record like ``trade_closed`` whose exit price is an estimate, with what the engine
    expected, what the exchange held and how the price was estimated in ``details`` (``lost``: expected,
    on_exchange, unmanaged, cancelled, price, price_source)."""
    entry = trade_closed(group, reason=reason, quantity_closed=quantity_closed, exit_value=exit_value)
    entry.details = {**entry.details, "lost": {key: _text(value) for key, value in lost.items()}}
    entry.save(update_fields=["details"])
    return entry


def trade_close_pnl_refresh(group: PositionGroup) -> None:
    """Funding booked after the group closed (fetched at its close, or by a later run) moved its realised
    PnL: its close record follows, with the percent on the same cost as when it was written."""
    entry = JournalEntry.objects.filter(group=group, kind=Kind.CLOSE).order_by("-created_at").first()
    if entry is None or entry.realized_pnl_usd == group.realized_pnl_usd:
        return
    invested = (entry.entry_price or 0) * (entry.quantity_closed or 0)
    JournalEntry.objects.filter(pk=entry.pk).update(
        realized_pnl_usd=group.realized_pnl_usd,
        pnl_percent=group.realized_pnl_usd / invested * 100 if invested else None,
    )


def orphan_cancelled(account, state, order=None) -> JournalEntry:
    """Reconciliation cancelled an order of ours (``state``, the exchange's ``ExchangeOrder``) resting on
    ``account``'s exchange that the database did not know (``order`` None) or knew as cancelled/failed."""
    return JournalEntry.objects.create(
        user_id=account.user_id,
        kind=Kind.ORPHAN_CANCELLED,
        group=order.group if order else None,
        quantity_closed=state.amount - state.filled,
        exit_price=state.price,
        details={
            "side": _text(state.side),
            "amount": _text(state.amount),
            "symbol": state.symbol,
            "price": _text(state.price),
            "client_order_id": state.client_order_id,
            "exchange": account.exchange_id,
            "known_as": _text(order.status) if order else None,
        },
    )


# --- Risk timers -----------------------------------------------------------------------------------


def timer_started(group: PositionGroup) -> JournalEntry:
    return _timer(group, Kind.TIMER_STARTED)


def timer_expired(group: PositionGroup) -> JournalEntry:
    return _timer(group, Kind.TIMER_EXPIRED)


def timer_reset(group: PositionGroup, *, pyramid_added: int | None = None) -> JournalEntry:
    """The group's risk timer started over: it recovered (the evaluation), or ``pyramid_added`` (its
    number, 1-based) was added to it."""
    if pyramid_added is not None:
        return JournalEntry.objects.create(
            user_id=group.user_id, kind=Kind.TIMER_RESET, group=group, details={"pyramid_added": pyramid_added}
        )
    return _timer(group, Kind.TIMER_RESET)


def _timer(group: PositionGroup, kind: str) -> JournalEntry:
    return JournalEntry.objects.create(
        user_id=group.user_id,
        kind=kind,
        group=group,
        pnl_percent=group.unrealized_pnl_percent,
        loser_pnl_usd=group.unrealized_pnl_usd,
        details=_position(group),
    )


# --- Loss offsets ----------------------------------------------------------------------------------


def offset_recorded(
    loser: PositionGroup, *, required_usd: Decimal, covered_usd: Decimal, winner_details: list, exit_reason: str, now
) -> JournalEntry:
    """A loss offset was decided: ``loser`` is being closed, the winners (``winner_details``) wait for
    its close to fill (``winners_state`` waiting)."""
    return JournalEntry.objects.create(
        user_id=loser.user_id,
        kind=Kind.OFFSET_LOSS,
        group=loser,
        loser_group=loser,
        winners_state=JournalEntry.WinnersState.WAITING,
        loser_pnl_usd=loser.unrealized_pnl_usd,
        required_usd=required_usd,
        winner_details=winner_details,
        exit_reason=exit_reason,
        entry_price=loser.weighted_avg_entry,
        exit_price=loser.current_price,
        quantity_closed=loser.total_filled_quantity,
        pnl_percent=loser.unrealized_pnl_percent,
        duration_seconds=int((now - loser.created_at).total_seconds()),
        details={"symbol": loser.symbol, "covered_usd": _text(covered_usd)},
    )


def offset_winners_dispatched(entry: JournalEntry) -> None:
    """The loser closed: the offset's winners were sent (``entry`` locked by the caller)."""
    entry.winners_state = JournalEntry.WinnersState.DISPATCHED
    entry.save(update_fields=["winners_state"])


def offset_winners_cancelled(entry: JournalEntry, *, reason: str) -> None:
    """The loser's close failed (``reason``): the offset's winners are left untouched (``entry`` locked
    by the caller)."""
    entry.winners_state = JournalEntry.WinnersState.CANCELLED
    entry.details = {**entry.details, "close_failure": reason}
    entry.save(update_fields=["winners_state", "details"])


# --- The engine ------------------------------------------------------------------------------------


def engine_paused(user, *, loss_usd: Decimal, max_realized_loss_usd: Decimal) -> JournalEntry:
    """Today's realised loss (``loss_usd``, positive) reached the daily limit: new entries pause."""
    return JournalEntry.objects.create(
        user=user,
        kind=Kind.ENGINE_PAUSED,
        realized_pnl_usd=-loss_usd,
        details={"max_realized_loss_usd": _text(max_realized_loss_usd)},
    )


def engine_force_stopped(user, *, by: str) -> JournalEntry:
    return JournalEntry.objects.create(user=user, kind=Kind.FORCE_STOP, details={"by": by})


def engine_force_started(user, *, by: str, paused_by_loss_limit: bool) -> JournalEntry:
    return JournalEntry.objects.create(
        user=user, kind=Kind.FORCE_START, details={"by": by, "paused_by_loss_limit": paused_by_loss_limit}
    )


# --- A trader's per-position controls --------------------------------------------------------------


def group_blocked(group: PositionGroup) -> JournalEntry:
    """The trader blocked the group from being closed as the loser."""
    return _control(group, Kind.MANUAL_BLOCK)


def group_unblocked(group: PositionGroup) -> JournalEntry:
    return _control(group, Kind.MANUAL_UNBLOCK)


def group_skipped_once(group: PositionGroup) -> JournalEntry:
    """The trader had the next evaluation pass over the group as the loser."""
    return _control(group, Kind.MANUAL_SKIP)


def _control(group: PositionGroup, kind: str) -> JournalEntry:
    return JournalEntry.objects.create(
        user_id=group.user_id,
        kind=kind,
        group=group,
        pnl_percent=group.unrealized_pnl_percent,
        details={**_position(group), "exchange": group.exchange, "unrealized_pnl_usd": _text(group.unrealized_pnl_usd)},
    )
