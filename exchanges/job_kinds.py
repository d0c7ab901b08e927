"""Background jobs of the exchanges app: an account's "Test connection" and "Refresh balance" (balance
reads), which a web request must not wait for."""

from exchanges.job_results import ConnectionCheckSerializer
from exchanges.models import ExchangeAccount
from exchanges.services.balances import account_balance_refresh
from exchanges.services.connection import account_test_connection
from jobs.models import Job
from jobs.registry import JobOutcome, job_kind
from jobs.services import job_request

TEST_CONNECTION = "exchange_test_connection"


def test_connection_request(*, account: ExchangeAccount) -> Job:
    return job_request(
        user=account.user, kind=TEST_CONNECTION, subject_id=account.pk, title=f"Test connection: {account}"
    )


@job_kind(TEST_CONNECTION)
def test_connection_run(job: Job) -> JobOutcome:
    account = ExchangeAccount.objects.filter(user=job.user, pk=job.subject_id).first()
    if account is None:
        return JobOutcome(ok=False, message="The exchange account was deleted before the test ran.")
    check = account_test_connection(account=account)  # its error text is the connector's, cleaned of URLs
    if check.ok:
        held = ", ".join(f"{total.normalize():f} {asset}" for asset, total in check.balances.items()) or "empty"
        message = f"{account}: connected; balance {held}."
    else:
        message = f"{account}: the connection failed: {check.error}"
    return JobOutcome(ok=check.ok, message=message, result=dict(ConnectionCheckSerializer(check).data))


BALANCE_REFRESH = "exchange_balance_refresh"


def balance_refresh_request(*, account: ExchangeAccount) -> Job:
    return job_request(
        user=account.user, kind=BALANCE_REFRESH, subject_id=account.pk, title=f"Refresh balance: {account}"
    )


@job_kind(BALANCE_REFRESH)
def balance_refresh_run(job: Job) -> JobOutcome:
    account = ExchangeAccount.objects.filter(user=job.user, pk=job.subject_id).first()
    if account is None:
        return JobOutcome(ok=False, message="The exchange account was deleted before its balance was read.")
    snapshot = account_balance_refresh(account=account)
    if snapshot.error:
        return JobOutcome(ok=False, message=f"{account}: the balance could not be read: {snapshot.error}")
    unpriced = (
        f" (not counted, no USD price: {', '.join(snapshot.unpriced_assets)})" if snapshot.unpriced_assets else ""
    )
    return JobOutcome(
        ok=True,
        message=f"{account}: equity {snapshot.equity_usd:,.2f} USD{unpriced}.",
        result={"account": account.pk, "equity_usd": str(snapshot.equity_usd)},
    )
