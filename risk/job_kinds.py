"""Background jobs of the risk app: the API's "sync with the exchange now" and "evaluate now". Both
read the exchange (orders and prices; the winners' market lot sizes), so a web request only starts
them."""

from exchanges.connector import ExchangeError
from jobs.models import Job
from jobs.registry import JobOutcome, job_kind
from jobs.services import job_request
from risk.evaluation import Evaluation, risk_evaluate
from risk.job_results import EvaluationSerializer, ExchangeSyncSerializer, loser_body
from risk.selectors import user_groups_by_id
from risk.services import exchange_accounts_sync

EXCHANGE_SYNC = "exchange_sync"
RISK_EVALUATION = "risk_evaluation"


def exchange_sync_request(*, user) -> Job:
    return job_request(user=user, kind=EXCHANGE_SYNC, title="Sync fills and prices from your exchanges")


@job_kind(EXCHANGE_SYNC)
def exchange_sync_run(job: Job) -> JobOutcome:
    accounts = exchange_accounts_sync(user=job.user)  # exchange errors are reported per account, never raised
    failed = [account for account in accounts if not account.ok]
    changed = sum(symbol.groups_changed for account in accounts for symbol in account.symbols)
    if not accounts:
        message = "No enabled exchange account: nothing to sync."
    elif failed:
        errors = "; ".join(
            f"{account.account}: {account.error or next(s.error for s in account.symbols if s.error)}"
            for account in failed
        )
        message = f"Synced {len(accounts) - len(failed)} of {len(accounts)} account(s). Failed: {errors}"
    else:
        message = f"Synced {len(accounts)} account(s): {changed} position(s) changed."
    body = ExchangeSyncSerializer({"accounts": accounts}).data
    return JobOutcome(ok=not failed, message=message, result=dict(body))


def risk_evaluation_request(*, user) -> Job:
    return job_request(user=user, kind=RISK_EVALUATION, title="Risk evaluation")


@job_kind(RISK_EVALUATION)
def risk_evaluation_run(job: Job) -> JobOutcome:
    try:
        result = risk_evaluate(user=job.user)
    except ExchangeError as exc:  # the evaluation rolled back: no timer, flag or close was written
        return JobOutcome(ok=False, message=f"The exchange did not answer ({exc}); nothing was changed: try again.")
    if result.executed:
        message = f"Offset executed: closing the loser, then reducing {len(result.winners)} winner(s)."
    else:
        message = f"No offset: {result.reason}."
    return JobOutcome(
        ok=True, message=message, result=dict(EvaluationSerializer(evaluation_body(result, job.user)).data)
    )


def evaluation_body(result: Evaluation, user) -> dict:
    # Names only: by now the worker may already be closing these positions, so their figures are not
    # the ones the evaluation decided on; those are in ``result``.
    groups = user_groups_by_id(user=user, ids=result.ineligible)  # every group evaluated, loser and winners too
    winners = [
        {
            "id": group_id,
            "symbol": groups[group_id].symbol,
            "side": groups[group_id].side,
            "quantity": quantity,
            "profit_usd": profit,
        }
        for group_id, quantity, profit in result.winners
    ]
    positions = [
        {
            "id": group_id,
            "symbol": groups[group_id].symbol,
            "side": groups[group_id].side,
            "eligible": why is None,
            "reason": why,
        }
        for group_id, why in result.ineligible.items()
    ]
    return {
        "executed": result.executed,
        "reason": result.reason,
        "loser": loser_body(groups[result.loser_id], result.required_usd) if result.loser_id else None,
        "winners": winners,
        "required_usd": result.required_usd,
        "covered_usd": result.covered_usd,
        "timer_events": result.timer_events,
        "positions": positions,
    }
