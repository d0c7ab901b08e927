"""Background jobs of the exchanges app: an account's "Test connection" (a balance read), which a web
request must not wait for."""

from exchanges.api.serializers import ConnectionCheckSerializer
from exchanges.models import ExchangeAccount
from exchanges.services.connection import account_test_connection
from jobs.models import Job
from jobs.registry import JobOutcome, job_kind
from jobs.services import job_request

TEST_CONNECTION = "exchange_test_connection"


def test_connection_request(*, account: ExchangeAccount) -> Job:
    return job_request(user=account.user, kind=TEST_CONNECTION, subject_id=account.pk,
                       title=f"Test connection: {account}")


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
