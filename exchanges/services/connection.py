"""'Test connection': fetch the balance through the account's connector and remember the outcome."""

import logging
from dataclasses import dataclass
from decimal import Decimal

from exchanges.connector import ExchangeError
from exchanges.models import ExchangeAccount
from exchanges.services.accounts import connector_for_account
from exchanges.services.derivatives import is_swap, position_mode_refresh

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    balances: dict[str, Decimal]
    error: str = ""


def account_test_connection(*, account: ExchangeAccount) -> ConnectionCheck:
    """Fetch the balance (the cheapest authenticated call); store the error for the settings page. A swap
    account's position mode is read and stored too."""
    try:
        balance = connector_for_account(account).balance()
    except ExchangeError as exc:
        ExchangeAccount.objects.filter(pk=account.pk).update(last_connection_error=str(exc))
        return ConnectionCheck(ok=False, balances={}, error=str(exc))
    ExchangeAccount.objects.filter(pk=account.pk).update(last_connection_error="")
    if is_swap(account):
        try:
            position_mode_refresh(account)
        except ExchangeError as exc:  # the keys work; the mode is read again daily and before a group opens
            logger.warning("position mode of account %s not read at connect: %s", account.pk, exc)
    held = {asset: balance.total(asset) for asset in sorted(set(balance.free) | set(balance.used))}
    return ConnectionCheck(ok=True, balances={asset: total for asset, total in held.items() if total})
