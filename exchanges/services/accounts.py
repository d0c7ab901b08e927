"""Which connector a trader's signal uses: their account for the named exchange, ticker and label."""

from exchanges.account_choice import choose_account
from exchanges.connector import AccountNotUsable, Connector
from exchanges.models import ExchangeAccount


def account_for(user, exchange_id: str, *, tv_symbol: str = "", label: str = "") -> ExchangeAccount:
    """The user's usable account on ``exchange_id`` for an alert on ``tv_symbol`` (``label``: the alert's
    ``execution_intent.account``), or AccountNotUsable saying what to fix. The choice is
    ``exchanges.account_choice.choose_account``'s; disabled accounts and accounts without keys are still
    candidates, so the refusal names the account the alert meant."""
    exchange_id = (exchange_id or "").strip().lower()
    label = (label or "").strip()
    accounts = list(ExchangeAccount.objects.filter(user=user, exchange_id=exchange_id).order_by("pk"))
    labelled = []
    if label and not any(account.label == label for account in accounts):
        labelled = list(ExchangeAccount.objects.filter(user=user, label=label).exclude(exchange_id=exchange_id))
    account = choose_account(accounts, exchange_id=exchange_id, tv_symbol=tv_symbol, label=label, labelled=labelled)
    if not account.is_enabled:
        raise AccountNotUsable(f"Your {_name(account)} is disabled: enable it in Settings → Exchange accounts.")
    if account.mode != ExchangeAccount.Mode.PAPER and not account.has_keys:
        raise AccountNotUsable(
            f"Your {_name(account)} is in {account.mode} mode but has no API key and secret: "
            f"add them in Settings → Exchange accounts."
        )
    return account


def _name(account: ExchangeAccount) -> str:
    return f"{account.exchange_id} {account.market_type} account" + (f" “{account.label}”" if account.label else "")


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
        market_type=account.market_type,
    )


def connector_for(user, exchange_id: str, *, tv_symbol: str = "", label: str = "") -> Connector:
    return connector_for_account(account_for(user, exchange_id, tv_symbol=tv_symbol, label=label))
