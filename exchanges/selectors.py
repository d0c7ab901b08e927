"""Read queries of the exchanges app."""

from dataclasses import dataclass

from django.db.models import QuerySet

from exchanges.equity import Holding
from exchanges.job_kinds import BALANCE_REFRESH
from exchanges.models import AccountBalance, ExchangeAccount
from jobs.selectors import jobs_of
from jobs.states import JOB_FINISHED_STATUSES


def exchange_accounts_of(user) -> QuerySet[ExchangeAccount]:
    """The trader's exchange accounts by exchange (a spot and a swap account may share one): every lookup by id
    goes through here, so another trader's id is a 404."""
    return ExchangeAccount.objects.filter(user=user).order_by("exchange_id", "market_type", "pk")


def balance_snapshot_of(account: ExchangeAccount) -> AccountBalance:
    """The account's last stored balance; never read yet: an empty, unsaved one (no figures, no time)."""
    return AccountBalance.objects.filter(account=account).first() or AccountBalance(account=account)


@dataclass(frozen=True)
class AccountBalanceRow:
    """One account with its last stored balance (None: never read) and whether a refresh is under way."""

    account: ExchangeAccount
    snapshot: AccountBalance | None
    holdings: list[Holding]
    refreshing: bool


def account_balances(user) -> list[AccountBalanceRow]:
    """The trader's accounts with their stored balances: two queries, whatever the number of accounts."""
    # The keys stay in the database: this page has no use for them decrypted.
    accounts = (
        ExchangeAccount.objects.filter(user=user)
        .select_related("balance_snapshot")
        .defer("api_key", "api_secret", "api_password")
        .order_by("exchange_id", "pk")
    )
    refreshing = set(
        jobs_of(user)
        .filter(kind=BALANCE_REFRESH)
        .exclude(status__in=JOB_FINISHED_STATUSES)
        .values_list("subject_id", flat=True)
    )
    rows = []
    for account in accounts:
        snapshot = getattr(account, "balance_snapshot", None)
        holdings = [Holding.from_json(item) for item in snapshot.holdings] if snapshot else []
        rows.append(AccountBalanceRow(account, snapshot, holdings, str(account.pk) in refreshing))
    return rows
