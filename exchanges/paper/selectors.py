"""Reads of the paper exchange's prices as one account sees them."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import QuerySet

from exchanges.models import ExchangeAccount, PaperAccountPrice, PaperMarket, PaperPrice
from exchanges.symbols import is_perpetual_ticker


@dataclass(frozen=True)
class PaperQuote:
    """The price one paper account trades a market at, and whether it is the account's own (set through
    ``POST /api/v1/paper/prices``) or the shared one (feeds, the operator's ``paper price``)."""

    exchange_id: str
    symbol: str
    price: Decimal
    updated_at: datetime
    own: bool


def account_quotes(account: ExchangeAccount, symbols: list[str] | None = None) -> dict[str, PaperQuote]:
    """{symbol: quote} of ``account``'s exchange (only ``symbols`` when given): its own prices over the shared."""
    shared = PaperPrice.objects.filter(exchange_id=account.exchange_id)
    own = PaperAccountPrice.objects.filter(account=account)
    if symbols is not None:
        shared, own = shared.filter(symbol__in=symbols), own.filter(symbol__in=symbols)
    quotes = {
        row.symbol: PaperQuote(account.exchange_id, row.symbol, row.price, row.updated_at, own=False) for row in shared
    }
    quotes.update(
        {row.symbol: PaperQuote(account.exchange_id, row.symbol, row.price, row.updated_at, own=True) for row in own}
    )
    return quotes


def user_paper_quotes(user) -> list[PaperQuote]:
    """Every price the trader's paper accounts trade at, by exchange and symbol."""
    accounts = ExchangeAccount.objects.filter(user=user, mode=ExchangeAccount.Mode.PAPER).order_by("exchange_id")
    quotes = [quote for account in accounts for quote in account_quotes(account).values()]
    return sorted(quotes, key=lambda quote: (quote.exchange_id, quote.symbol))


def paper_account_of(user, exchange: str, symbol: str = "") -> ExchangeAccount | None:
    """The trader's paper account on ``exchange`` (an id, any case and spacing) for ``symbol``; None when they
    have none. With a spot and a swap paper account there, a perpetual symbol (``BTCUSDT.P``,
    ``BTC/USDT:USDT``) means the swap one, any other the spot one."""
    accounts = list(
        ExchangeAccount.objects.filter(user=user, exchange_id=exchange.strip().lower(), mode="paper").order_by("pk")
    )
    if len(accounts) > 1:
        wanted = symbol.strip().upper()
        perpetual = is_perpetual_ticker(wanted) or ("/" in wanted and ":" in wanted)
        market_type = ExchangeAccount.MarketType.SWAP if perpetual else ExchangeAccount.MarketType.SPOT
        accounts.sort(key=lambda account: account.market_type != market_type)
    return accounts[0] if accounts else None


def paper_exchanges_of(user) -> list[str]:
    """The exchange ids the trader has a paper account on."""
    accounts = ExchangeAccount.objects.filter(user=user, mode="paper").order_by("exchange_id")
    return list(accounts.values_list("exchange_id", flat=True).distinct())


def has_own_price(account: ExchangeAccount, symbol: str) -> bool:
    """Whether the paper account trades ``symbol`` at a price of its own (not the shared one)."""
    return PaperAccountPrice.objects.filter(account=account, symbol=symbol).exists()


def paper_markets(exchanges: list[str]) -> QuerySet[PaperMarket]:
    """The markets of these paper exchanges, by exchange and symbol."""
    return PaperMarket.objects.filter(exchange_id__in=exchanges).order_by("exchange_id", "symbol")
