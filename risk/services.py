"""Writes of the risk app: the trader's risk configuration and the engine's force-stop switch.

Each function takes the user's ``RiskConfig`` row lock — the lock that serialises that user's signal
routing — so a change never interleaves with a routing decision, and a routing decision never
writes over a change with a stale copy of the row.
"""

import logging

from django.db import transaction

from risk.models import RiskAction, RiskConfig
from trading.tasks import promote_queue_task

logger = logging.getLogger(__name__)

# Changed only through their own paths: the routing's loss-limit check, the evaluation, and the
# force-stop/force-start services below (which leave an audit row).
RISK_CONFIG_READ_ONLY = ("user", "engine_paused_by_loss_limit", "engine_force_stopped", "paused_at",
                         "last_evaluated_at", "updated_at")


def _locked_risk_config(user) -> RiskConfig:
    """The user's row, locked until the end of the caller's transaction (created if missing)."""
    risk, _ = RiskConfig.objects.select_for_update().get_or_create(user=user)
    return risk


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


def engine_force_stop(*, user) -> RiskConfig:
    """Stop new entries: from now on every entry signal is queued until ``engine_force_start``.

    Open positions carry on (fills, take-profits, exits, the risk engine). Stopping a stopped engine
    changes nothing and writes no second audit row.
    """
    with transaction.atomic():
        risk = _locked_risk_config(user)
        if risk.engine_force_stopped:
            return risk
        risk.engine_force_stopped = True
        risk.save(update_fields=["engine_force_stopped", "updated_at"])
        RiskAction.objects.create(
            user=user, action_type=RiskAction.ActionType.FORCE_STOP,
            notes="Engine force-stopped by the trader: new entries are queued until it is started again.",
        )
    logger.warning("engine force-stopped for user %s", user.pk)
    return risk


def engine_force_start(*, user) -> RiskConfig:
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
        notes = "Engine started again by the trader: queued entries are promoted."
        if risk.engine_paused_by_loss_limit:
            notes += " New entries stay paused by the daily loss limit (max_realized_loss_usd)."
        RiskAction.objects.create(user=user, action_type=RiskAction.ActionType.FORCE_START, notes=notes)
        transaction.on_commit(lambda: _promote_queue(user.pk))
    logger.warning("engine force-started for user %s", user.pk)
    return risk


def _promote_queue(user_id) -> None:
    try:
        promote_queue_task.delay(str(user_id))
    except Exception:  # the beat schedule promotes anyway; a broker hiccup must not fail the start
        logger.warning("could not enqueue queue promotion for user %s", user_id, exc_info=True)
