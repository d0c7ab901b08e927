"""Which connector a trader's signal uses: their account for the named exchange."""

from exchanges.connector import AccountNotUsable, Connector
from exchanges.models import ExchangeAccount


def account_for(user, exchange_id: str) -> ExchangeAccount:
    """The user's usable account for ``exchange_id``, or AccountNotUsable saying what to fix."""
    exchange_id = (exchange_id or "").strip().lower()
    account = ExchangeAccount.objects.filter(user=user, exchange_id=exchange_id).first()
    if account is None:
        raise AccountNotUsable(
            f"No exchange account for {exchange_id!r}: add one in Settings → Exchange accounts "
            f"(mode paper for a dry run)."
        )
    if not account.is_enabled:
        raise AccountNotUsable(f"Your {exchange_id} account is disabled: enable it in Settings → Exchange accounts.")
    if account.mode != ExchangeAccount.Mode.PAPER and not account.has_keys:
        raise AccountNotUsable(
            f"Your {exchange_id} account is in {account.mode} mode but has no API key and secret: "
            f"add them in Settings → Exchange accounts."
        )
    return account


def connector_for_account(account: ExchangeAccount) -> Connector:
    if account.mode == ExchangeAccount.Mode.PAPER:
        from exchanges.paper.connector import PaperConnector

        return PaperConnector(account)
    from exchanges.ccxt.connector import CcxtConnector

    return CcxtConnector(
        account.exchange_id,
        mode=account.mode,
        api_key=account.api_key,
        api_secret=account.api_secret,
        password=account.api_password,
        account_key=str(account.pk),
        # A swap account (issue 18 adds the field) loads linear perpetuals through ccxt's derivatives endpoints.
        market_type=getattr(account, "market_type", "spot") or "spot",
    )


def connector_for(user, exchange_id: str) -> Connector:
    return connector_for_account(account_for(user, exchange_id))
