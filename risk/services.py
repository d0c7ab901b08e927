"""Writes of the risk app: the trader's risk configuration, the engine's force-stop switch, the
per-position risk controls (block, unblock, skip once) and an on-demand exchange sync.

Each write takes the user's ``RiskConfig`` row lock — the lock that serialises that user's signal
routing and risk evaluation — so a change never interleaves with a routing decision or an
evaluation, and neither writes over a change with a stale copy of the row. Locks are taken in the
order the evaluation takes them: the risk-config row first, then position groups.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from core.errors import DomainError
from exchanges.connector import ExchangeError
from exchanges.models import ExchangeAccount
from exchanges.services.accounts import connector_for_account
from trading import journal
from trading.locks import lock_group, lock_user_routing
from trading.models import Order, PositionGroup, RiskConfig
from trading.services import dispatch
from trading.services.sync import prices_sync, symbol_sync
from trading.states import GROUP_TERMINAL_STATUSES, ORDER_SYNCED_STATUSES

logger = logging.getLogger(__name__)

# Changed only through their own paths: the routing's loss-limit check, the evaluation, and the
# force-stop/force-start services below (which leave an audit row).
RISK_CONFIG_READ_ONLY = (
    "user",
    "engine_paused_by_loss_limit",
    "engine_force_stopped",
    "paused_at",
    "last_evaluated_at",
    "updated_at",
)


def _locked_risk_config(user) -> RiskConfig:
    """The user's row, locked until the end of the caller's transaction (created if missing)."""
    return lock_user_routing(user)


def risk_config_update(*, user, changes: dict) -> RiskConfig:
    """Apply ``changes`` to the user's pool and risk settings, validated by ``RiskConfig.full_clean()``.

    Raises ``django.core.exceptions.ValidationError`` and saves nothing when a value is refused.
    Only the changed columns are written, so the engine's own flags are never overwritten.
    """
    refused = set(changes) & set(RISK_CONFIG_READ_ONLY)
    if refused:
        raise ValueError(f"risk_config_update cannot change {', '.join(sorted(refused))}")
    with transaction.atomic():
        risk = _locked_risk_config(user)
        for name, value in changes.items():
            setattr(risk, name, value)
        risk.full_clean()  # clean() checks priority_rules, the loss threshold's sign, the pool limits
        risk.save(update_fields=[*changes, "updated_at"])
    logger.info("risk config of user %s changed: %s", user.pk, ", ".join(sorted(changes)) or "nothing")
    return risk


def engine_force_stop(*, user, by: str = "the trader") -> RiskConfig:
    """Stop new entries: from now on every entry signal is queued until ``engine_force_start``.

    Open positions carry on (fills, take-profits, exits, the risk engine). Stopping a stopped engine
    changes nothing and writes no second audit row. ``by`` names who stopped it in the audit trail.
    """
    with transaction.atomic():
        risk = _locked_risk_config(user)
        if risk.engine_force_stopped:
            return risk
        risk.engine_force_stopped = True
        risk.save(update_fields=["engine_force_stopped", "updated_at"])
        journal.engine_force_stopped(user, by=by)
    logger.warning("engine force-stopped for user %s", user.pk)
    return risk


def engine_force_start(*, user, by: str = "the trader") -> RiskConfig:
    """Let new entries through again and promote the waiting queue at once (after commit).

    It lifts the trader's force-stop only: a pause by the daily loss limit (``max_realized_loss_usd``)
    follows today's realised loss, re-checked on every entry, and lifts on its own.
    """
    with transaction.atomic():
        risk = _locked_risk_config(user)
        if not risk.engine_force_stopped:
            return risk
        risk.engine_force_stopped = False
        risk.save(update_fields=["engine_force_stopped", "updated_at"])
        journal.engine_force_started(user, by=by, paused_by_loss_limit=risk.engine_paused_by_loss_limit)
        transaction.on_commit(lambda: dispatch.promote_queue(user.pk))
    logger.warning("engine force-started for user %s", user.pk)
    return risk


# --- Per-position controls ---------------------------------------------------------------------------


class GroupNotOpen(DomainError):
    """The position is closed or failed: the risk engine no longer looks at it, so there is nothing to set."""


def group_block(*, group: PositionGroup) -> PositionGroup:
    """Keep the position from being closed as the loser until ``group_unblock``; its timer runs on.

    (Selection still counts a blocked position among the winners: it only cannot be the loser.)
    """
    return _risk_flag_set(group, "risk_blocked", True, journal.group_blocked)


def group_unblock(*, group: PositionGroup) -> PositionGroup:
    """Let the position be chosen as the loser again (when its timer has expired)."""
    return _risk_flag_set(group, "risk_blocked", False, journal.group_unblocked)


def group_skip_once(*, group: PositionGroup) -> PositionGroup:
    """Pass over the position as the loser in the next evaluation only (the evaluation clears the flag)."""
    return _risk_flag_set(group, "risk_skip_once", True, journal.group_skipped_once)


def _risk_flag_set(group: PositionGroup, flag: str, value: bool, record: Callable) -> PositionGroup:
    """Set ``flag`` under the user's risk-config lock, then the group's row lock, with an audit row (``record``,
    the journal's writer for the control).

    Setting a flag to the value it already has changes nothing and writes no second audit row.
    Raises ``GroupNotOpen`` for a closed or failed position.
    """
    with transaction.atomic():
        _locked_risk_config(group.user)
        group = lock_group(group.pk)
        if group.status in GROUP_TERMINAL_STATUSES:
            raise GroupNotOpen(
                f"The {_label(group)} is {group.status}: the risk engine no longer evaluates it, so it cannot "
                f"be blocked, unblocked or skipped."
            )
        if getattr(group, flag) == value:
            return group
        now = timezone.now()
        PositionGroup.objects.filter(pk=group.pk).update(**{flag: value, "updated_at": now})
        setattr(group, flag, value)
        group.updated_at = now
        record(group)
    logger.info("position group %s: %s set to %s by the trader", group.pk, flag, value)
    return group


def _label(group: PositionGroup) -> str:
    return group.label_on_exchange


# --- Exchange sync on demand ---------------------------------------------------------------------


@dataclass
class SymbolSync:
    symbol: str
    groups_changed: int = 0
    error: str = ""


@dataclass
class AccountSync:
    """What one exchange account's sync did: each symbol's fills, then the prices; or the exchange's error."""

    account: ExchangeAccount
    symbols: list[SymbolSync] = field(default_factory=list)
    symbols_priced: int = 0
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and not any(s.error for s in self.symbols)


def exchange_accounts_sync(*, user) -> list[AccountSync]:
    """Re-read fills and prices now for every enabled exchange account of the user: what one beat of
    ``sync_fills_task`` does for them (``symbol_sync`` for each symbol with live orders, then
    ``prices_sync``), run in this process and reported.

    Exchange I/O: call outside a transaction (each result is applied in its own short one). An
    exchange error is reported for the symbol or account it hit and the sync carries on with the
    rest; it is never raised.
    """
    results = []
    for account in ExchangeAccount.objects.filter(user=user, is_enabled=True).order_by("pk"):
        result = AccountSync(account)
        results.append(result)
        try:
            connector = connector_for_account(account)
        except ExchangeError as exc:
            result.error = str(exc)
            continue
        symbols = (
            Order.objects.filter(group__exchange_account=account, status__in=ORDER_SYNCED_STATUSES)
            .order_by("symbol")
            .values_list("symbol", flat=True)
            .distinct()
        )
        for symbol in symbols:
            synced = SymbolSync(symbol)
            try:
                synced.groups_changed = symbol_sync(account_id=account.pk, symbol=symbol, connector=connector)
            except ExchangeError as exc:
                synced.error = str(exc)
                logger.warning("sync of %s on account %s failed: %s", symbol, account.pk, exc)
            result.symbols.append(synced)
        try:
            result.symbols_priced = prices_sync(account_id=account.pk, connector=connector)
        except ExchangeError as exc:
            result.error = f"Prices could not be read: {exc}"
            logger.warning("price sync of account %s failed: %s", account.pk, exc)
    return results
