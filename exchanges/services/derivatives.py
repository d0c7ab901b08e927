"""A swap account's position mode and the leverage and margin mode the engine set per symbol.

The position mode (one_way | hedge) is the exchange's: read at connect, daily (beat), and again after a
refusal that says an order's position side does not fit it, and stored on the account, where a group reads
it when it opens. Leverage and margin mode are set per (account, symbol) before an opening order, only when
they differ from what was last set (``ExchangeAccount.derivatives_settings``); an exchange answering "not
modified" is success (the connectors already treat it so). Exchange calls happen outside transactions.
"""

import logging

from exchanges.connector import Connector, ExchangeError
from exchanges.models import ExchangeAccount
from exchanges.services.accounts import connector_for_account

logger = logging.getLogger(__name__)

# The words exchanges refuse an order with when its position side (or reduce-only) does not fit the account's
# position mode: Binance -4061 (the paper exchange speaks it too), Bybit 10001 "position idx not match position
# mode", OKX 51000 "Parameter posSide error", and Binance's -1106 reduceOnly in hedge mode.
POSITION_MODE_REFUSALS = (
    "position side does not match",
    "position idx not match position mode",
    "posside error",
    "reduceonly sent when not required",
)


def is_swap(account: ExchangeAccount) -> bool:
    return account.market_type == ExchangeAccount.MarketType.SWAP


def is_position_mode_refusal(exc: Exception) -> bool:
    text = f"{exc} {getattr(exc, 'exchange_message', '')}".lower()
    return any(words in text for words in POSITION_MODE_REFUSALS)


def position_mode_refresh(account: ExchangeAccount, connector: Connector | None = None) -> str:
    """Read the account's position mode from the exchange and store it; the mode read. ExchangeError
    propagates (the stored value stays)."""
    mode = (connector or connector_for_account(account)).position_mode()
    ExchangeAccount.objects.filter(pk=account.pk).update(position_mode=mode)
    account.position_mode = mode
    return mode


def position_mode_of(account: ExchangeAccount, connector: Connector | None = None) -> str:
    """The stored position mode, read from the exchange when none is stored yet."""
    return account.position_mode or position_mode_refresh(account, connector)


def position_modes_refresh() -> int:
    """Beat (daily): re-read every enabled swap account's position mode; how many were read."""
    read = 0
    for account in ExchangeAccount.objects.filter(is_enabled=True, market_type=ExchangeAccount.MarketType.SWAP):
        try:
            position_mode_refresh(account)
        except ExchangeError as exc:
            logger.warning("position mode of account %s not read: %s", account.pk, exc)
            continue
        read += 1
    return read


def settings_last_set(account: ExchangeAccount, symbol: str) -> dict | None:
    """``{"leverage": n, "margin_mode": m}`` the engine last set on ``symbol``, or None."""
    return (account.derivatives_settings or {}).get(symbol)


def settings_differ(account: ExchangeAccount, symbol: str, *, leverage: int, margin_mode: str) -> bool:
    return settings_last_set(account, symbol) != {"leverage": int(leverage), "margin_mode": margin_mode}


def symbol_busy(connector: Connector, symbol: str) -> str:
    """Why leverage or margin mode cannot change on ``symbol`` now ("" when they can): open orders, or a
    position of the account. ExchangeError propagates."""
    if connector.fetch_open_orders(symbol):
        return "there are open orders"
    if connector.fetch_positions([symbol]):
        return "there is an open position"
    return ""


def settings_apply(
    account: ExchangeAccount, symbol: str, *, leverage: int, margin_mode: str, connector: Connector
) -> bool:
    """Set ``margin_mode`` and ``leverage`` on ``symbol`` unless they are what was last set; True when the
    exchange was asked. The exchange's refusal (PermanentError) propagates and nothing is recorded."""
    account.refresh_from_db(fields=["derivatives_settings"])
    if not settings_differ(account, symbol, leverage=leverage, margin_mode=margin_mode):
        return False
    connector.set_margin_mode(symbol, margin_mode, leverage=int(leverage))
    connector.set_leverage(symbol, int(leverage), margin_mode=margin_mode)
    account.refresh_from_db(fields=["derivatives_settings"])
    settings = dict(account.derivatives_settings or {})
    settings[symbol] = {"leverage": int(leverage), "margin_mode": margin_mode}
    ExchangeAccount.objects.filter(pk=account.pk).update(derivatives_settings=settings)
    account.derivatives_settings = settings
    logger.info("account %s %s: leverage %s, margin %s set", account.pk, symbol, leverage, margin_mode)
    return True
