"""A swap account's position mode and the leverage and margin mode the engine set per symbol.

The position mode (one_way | hedge) is the exchange's: read at connect, daily (beat), and again after a
refusal that says an order's position side does not fit it, and stored on the account, where a group reads
it when it opens. Leverage and margin mode are set per (account, symbol) before an opening order: always for a
new group the engine holds nothing else for on the symbol (``always``: what was last set is the engine's memory,
and a trader may have changed the symbol by hand since), otherwise only when they differ from what was last set
(``ExchangeAccount.derivatives_settings``); an exchange answering "not modified" is success (the connectors
already treat it so). Exchange calls happen outside transactions.

Leverage tiers (``exchanges.tiers``: the leverage an exchange allows per notional) are kept in Django's cache
(Redis in production), per account and symbol, for ``TIERS_CACHE_SECONDS``: they are the exchange's data,
not a setting the engine made (``derivatives_settings`` records only what the engine set, and is rewritten by
``settings_apply``), they change a few times a year, Binance's are per account (signed endpoint), and OKX's
are turned into the quote at the day's price. A web request (the DCA preview) reads the cache only.
"""

import logging
from collections.abc import Sequence

from django.core.cache import cache

from exchanges.connector import Connector, ExchangeError
from exchanges.models import ExchangeAccount
from exchanges.services.accounts import connector_for_account
from exchanges.tiers import MarginTier, tiers_from_json

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
    account: ExchangeAccount,
    symbol: str,
    *,
    leverage: int,
    margin_mode: str,
    connector: Connector,
    always: bool = False,
) -> bool:
    """Set ``margin_mode`` and ``leverage`` on ``symbol`` — ``always``, or else only when they are not what was
    last set — and record them; True when the exchange was asked. The exchange's refusal (PermanentError)
    propagates and nothing is recorded."""
    account.refresh_from_db(fields=["derivatives_settings"])
    if not always and not settings_differ(account, symbol, leverage=leverage, margin_mode=margin_mode):
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


TIERS_CACHE_SECONDS = 6 * 3600


def _tiers_key(account: ExchangeAccount, symbol: str) -> str:
    return f"leverage-tiers:{account.pk}:{symbol}"


def cached_leverage_tiers(account: ExchangeAccount, symbol: str) -> tuple[MarginTier, ...] | None:
    """The tiers the account's exchange last gave for ``symbol`` (cache only, never the exchange), or None."""
    rows = cache.get(_tiers_key(account, symbol))
    return tiers_from_json(rows) if rows else None


def leverage_tiers(
    account: ExchangeAccount, symbol: str, connector: Connector | None = None
) -> tuple[Sequence[MarginTier] | None, str]:
    """``symbol``'s leverage tiers on the account's exchange (cached), and "" — or None and why they could not
    be read (the exchange does not give them, or did not answer): the caller then keeps the configured leverage
    and says so. Never raises an ExchangeError."""
    held = cached_leverage_tiers(account, symbol)
    if held:
        return held, ""
    try:
        tiers = (connector or connector_for_account(account)).fetch_leverage_tiers(symbol)
    except ExchangeError as exc:
        logger.warning("leverage tiers of %s on account %s not read: %s", symbol, account.pk, exc)
        return None, str(exc)
    cache.set(_tiers_key(account, symbol), [tier.as_json() for tier in tiers], TIERS_CACHE_SECONDS)
    return tuple(tiers), ""


def preview_leverage_tiers(
    user, exchange_id: str, symbol: str
) -> tuple[tuple[MarginTier, ...], ExchangeAccount] | None:
    """For a DCA preview (a web request: cache only): the tiers one of the user's enabled swap accounts on
    ``exchange_id`` was given for ``symbol`` (the unified perpetual, ``BTC/USDT:USDT``; a spot-style pair
    ``BTC/USDT`` means its USDT-settled perpetual), with that account; None when none is held."""
    if not symbol or symbol == "*":
        return None
    symbols = [symbol] if ":" in symbol else [f"{symbol}:{symbol.split('/')[-1]}"]
    accounts = ExchangeAccount.objects.filter(
        user=user, exchange_id=(exchange_id or "").lower(), market_type=ExchangeAccount.MarketType.SWAP, is_enabled=True
    ).order_by("pk")
    for account in accounts:
        for candidate in symbols:
            tiers = cached_leverage_tiers(account, candidate)
            if tiers:
                return tiers, account
    return None
