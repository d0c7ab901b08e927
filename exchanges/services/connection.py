"""'Test connection': fetch the balance through the account's connector and remember the outcome."""

from dataclasses import dataclass
from decimal import Decimal

from exchanges.connector import ExchangeError
from exchanges.models import ExchangeAccount
from exchanges.services.accounts import connector_for_account


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    balances: dict[str, Decimal]
    error: str = ""


def account_test_connection(*, account: ExchangeAccount) -> ConnectionCheck:
    """Fetch the balance (the cheapest authenticated call); store the error for the settings page."""
    try:
        balance = connector_for_account(account).balance()
    except ExchangeError as exc:
        ExchangeAccount.objects.filter(pk=account.pk).update(last_connection_error=str(exc))
        return ConnectionCheck(ok=False, balances={}, error=str(exc))
    ExchangeAccount.objects.filter(pk=account.pk).update(last_connection_error="")
    held = {asset: balance.total(asset) for asset in sorted(set(balance.free) | set(balance.used))}
    return ConnectionCheck(ok=True, balances={asset: total for asset, total in held.items() if total})
