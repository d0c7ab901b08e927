"""Balances and equity of exchange accounts: read them from the exchange in a worker, keep the last reading.

The dashboard never asks an exchange (a slow one would hold the web workers the webhook needs): it
shows the stored ``AccountBalance`` with its age. A worker refreshes it when the trader clicks
*Refresh* (a background job) and on the beat every ``BALANCE_REFRESH_SECONDS`` (default 300 s). A
refresh costs two reads per account: the balance, and one batch of tickers to price what is not a
USD stablecoin (Binance: 10 + 40 weight out of 6,000 a minute, once every five minutes).
"""

import logging
from decimal import Decimal

from django.utils import timezone

from exchanges import dispatch
from exchanges.connector import Connector, ExchangeError
from exchanges.equity import Equity, account_equity, usd_price_symbol
from exchanges.models import AccountBalance, ExchangeAccount
from exchanges.services.accounts import connector_for_account

logger = logging.getLogger(__name__)


def _usd_prices(connector: Connector, assets: list[str]) -> dict[str, Decimal]:
    """The last ``<ASSET>/USDT`` price of each asset the exchange lists such a market for."""
    markets = connector.load_markets()
    symbols = {asset: symbol for asset in assets if (symbol := usd_price_symbol(asset)) and symbol in markets}
    if not symbols:
        return {}
    tickers = connector.tickers(sorted(symbols.values()))
    return {asset: tickers[symbol].last for asset, symbol in symbols.items() if symbol in tickers}


def account_balance_read(account: ExchangeAccount, connector: Connector | None = None) -> Equity:
    """The account's balance valued in USD, from the exchange. Exchange I/O: outside any transaction;
    raises the connector's ExchangeError."""
    connector = connector or connector_for_account(account)
    balance = connector.balance()
    assets = sorted(set(balance.free) | set(balance.used))
    return account_equity(balance.free, balance.used, _usd_prices(connector, assets))


def account_balance_refresh(*, account: ExchangeAccount, connector: Connector | None = None) -> AccountBalance:
    """Read the account's balance and store it; on an exchange error keep the last figures and store the
    error beside them. Safe to run twice (the last reading wins). Exchange I/O: call outside a transaction."""
    now = timezone.now()
    try:
        equity = account_balance_read(account, connector)
    except ExchangeError as exc:  # its text is the connector's: cleaned of keys and signed URLs
        logger.info("balance of account %s not refreshed: %s", account.pk, exc)
        snapshot, _ = AccountBalance.objects.update_or_create(
            account=account, defaults={"error": str(exc), "error_at": now}
        )
        return snapshot
    snapshot, _ = AccountBalance.objects.update_or_create(
        account=account,
        defaults={
            "holdings": [holding.as_json() for holding in equity.holdings],
            "equity_usd": equity.equity_usd,
            "unpriced_assets": equity.unpriced,
            "fetched_at": now,
            "error": "",
            "error_at": None,
        },
    )
    return snapshot


def balances_refresh_due() -> int:
    """The beat: hand every enabled account's refresh to a worker, one task each (a slow exchange then
    delays only its own accounts). Returns how many were sent."""
    sent = 0
    for account_id in ExchangeAccount.objects.filter(is_enabled=True).order_by("pk").values_list("pk", flat=True):
        sent += dispatch.balance_refresh(account_id)
    return sent
