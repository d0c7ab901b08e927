"""The one interface the engine uses to talk to an exchange, and the values and errors it speaks.

Two implementations: ``exchanges.ccxt.connector.CcxtConnector`` (any ccxt exchange, live or
testnet) and ``exchanges.paper.connector.PaperConnector`` (the database-backed paper exchange).
Everything crossing this boundary is a plain dataclass with ``Decimal`` numbers; every failure is
one of the exceptions below, carrying the exchange's own message.
"""

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from exchanges.candles import Candle
from exchanges.tiers import MarginTier

# --- Errors ----------------------------------------------------------------------------------


class ExchangeError(Exception):
    """Base of every exchange failure. ``str(error)`` is fit to show a trader."""

    def __init__(self, message: str, *, exchange_message: str = ""):
        super().__init__(message)
        self.exchange_message = exchange_message or message


class RetryableError(ExchangeError):
    """Try again later: network, timeout, exchange unavailable or overloaded."""


class RateLimited(RetryableError):
    """The exchange said slow down (HTTP 429/418). ``retry_after`` seconds when it said how long."""

    def __init__(self, message: str, *, exchange_message: str = "", retry_after: float | None = None):
        super().__init__(message, exchange_message=exchange_message)
        self.retry_after = retry_after


class OrderStatusUnknown(RetryableError):
    """The order was sent but its fate is unknown (e.g. Binance -1007): look it up before resending."""


class MarketsNotLoaded(RetryableError):
    """The market list is not on this server yet, and the caller may not download it (a web request)."""


class PermanentError(ExchangeError):
    """Retrying the same request will fail the same way."""


class InsufficientFunds(PermanentError):
    pass


class InvalidOrder(PermanentError):
    pass


class BadSymbol(PermanentError):
    pass


class AuthenticationFailed(PermanentError):
    pass


class AccountNotUsable(PermanentError):
    """The trader has no usable account for this exchange (missing, disabled, or without keys)."""


class OrderNotFound(ExchangeError):
    """The exchange does not know this order (yet, or any more)."""


# --- Values ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Market:
    """A tradable market with the precision and limits orders must respect."""

    symbol: str  # unified, e.g. BTC/USDT (or BTC/USDT:USDT for a linear perpetual)
    market_id: str  # the exchange's id, e.g. BTCUSDT
    base: str
    quote: str
    tick_size: Decimal  # price increment
    step_size: Decimal  # quantity increment
    min_qty: Decimal = Decimal(0)
    min_notional: Decimal = Decimal(0)
    type: str = "spot"  # spot | swap | future
    active: bool = True
    # Base units in one contract (ccxt's contractSize): 1 on spot; OKX BTC-USDT-SWAP 0.01. Quantities
    # crossing the Connector interface are always in the base asset; step_size and min_qty are too.
    contract_size: Decimal = Decimal(1)
    settle: str = ""  # a contract's settlement asset (USDT for BTC/USDT:USDT); empty for spot
    linear: bool | None = None  # a contract margined in its quote (True) or in its base (False: inverse)

    @property
    def inverse(self) -> bool:
        """A contract settled in its base coin (BTC/USD:BTC), which the engine does not trade. Without the
        exchange's ``linear`` flag (a market list cached before it was kept), the symbol's settle part says."""
        if self.type == "spot":
            return False
        if self.linear is not None:
            return not self.linear
        settle = self.settle or (self.symbol.split(":", 1)[1] if ":" in self.symbol else "")
        return bool(settle) and settle.upper() == self.base.upper()

    def as_json(self) -> dict:
        return {
            "symbol": self.symbol,
            "market_id": self.market_id,
            "base": self.base,
            "quote": self.quote,
            "tick_size": str(self.tick_size),
            "step_size": str(self.step_size),
            "min_qty": str(self.min_qty),
            "min_notional": str(self.min_notional),
            "type": self.type,
            "active": self.active,
            "settle": self.settle,
            "linear": self.linear,
            "contract_size": str(self.contract_size),
        }

    @classmethod
    def from_json(cls, data: dict) -> "Market":
        return cls(
            symbol=data["symbol"],
            market_id=data["market_id"],
            base=data["base"],
            quote=data["quote"],
            tick_size=Decimal(data["tick_size"]),
            step_size=Decimal(data["step_size"]),
            min_qty=Decimal(data.get("min_qty", "0")),
            min_notional=Decimal(data.get("min_notional", "0")),
            type=data.get("type", "spot"),
            active=data.get("active", True),
            settle=data.get("settle") or "",
            linear=data.get("linear"),
            contract_size=Decimal(data.get("contract_size", "1")),  # markets cached before contract sizes: 1
        )


@dataclass(frozen=True)
class Ticker:
    symbol: str
    last: Decimal
    bid: Decimal | None = None
    ask: Decimal | None = None
    timestamp: datetime | None = None


@dataclass(frozen=True)
class ExchangeOrder:
    """An order as the exchange reports it. ``status``: open | closed (fully filled) | canceled."""

    id: str
    client_order_id: str
    symbol: str
    side: str  # buy | sell
    type: str  # limit | market
    amount: Decimal
    price: Decimal | None
    status: str
    filled: Decimal = Decimal(0)
    average: Decimal | None = None
    fee: Decimal = Decimal(0)
    fee_currency: str = ""
    timestamp: datetime | None = None

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.filled

    @property
    def fee_reported(self) -> bool:
        """Whether the answer says what the fills cost (Binance's order queries do not: see its trades)."""
        return bool(self.fee_currency) or not self.filled


@dataclass(frozen=True)
class Trade:
    """One fill of an order as the exchange's trade history reports it, with what it cost."""

    id: str
    order_id: str
    amount: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str


def fees_by_currency(fees: Iterable[tuple[Decimal, str]]) -> dict[str, Decimal]:
    """(fee, currency) pairs (trades', orders') summed per currency, in first-seen order; a pair without a
    currency says nothing was charged and is left out."""
    totals: dict[str, Decimal] = {}
    for fee, currency in fees:
        if currency:
            totals[currency] = totals.get(currency, Decimal(0)) + fee
    return totals


@dataclass(frozen=True)
class Balance:
    free: dict[str, Decimal] = field(default_factory=dict)
    used: dict[str, Decimal] = field(default_factory=dict)

    def total(self, asset: str) -> Decimal:
        return self.free.get(asset, Decimal(0)) + self.used.get(asset, Decimal(0))


POSITION_MODES = ("one_way", "hedge")
POSITION_SIDES = ("long", "short")  # a hedge-mode order's (or position's) leg; None in one-way mode
MARGIN_MODES = ("isolated", "cross")


@dataclass(frozen=True)
class Position:
    """An open derivatives position as the exchange reports it; ``quantity`` in the base asset, positive."""

    symbol: str
    side: str  # long | short
    quantity: Decimal
    entry_price: Decimal | None = None
    liquidation_price: Decimal | None = None
    margin_mode: str = ""  # isolated | cross | "" when the exchange does not say
    leverage: Decimal | None = None
    margin_ratio: Decimal | None = None  # maintenance margin / margin, when the exchange gives it
    position_side: str | None = None  # long | short in hedge mode; None in one-way mode
    unrealized_pnl: Decimal | None = None
    mark_price: Decimal | None = None


@dataclass(frozen=True)
class FundingPayment:
    """One funding payment on a position: ``amount`` is signed (negative = paid by the trader)."""

    id: str
    symbol: str
    amount: Decimal
    currency: str
    timestamp: datetime | None = None
    position_side: str | None = None  # long | short when the exchange says which position paid (Bybit)


# --- Interface -------------------------------------------------------------------------------


class Connector(ABC):
    """What the engine needs from an exchange. All methods block; call them outside transactions."""

    exchange_id: str

    @abstractmethod
    def load_markets(self, *, reload: bool = False) -> dict[str, Market]:
        """Every market keyed by unified symbol (cached; ``reload`` refreshes)."""

    def market(self, symbol: str) -> Market:
        """The market for a unified symbol; BadSymbol when the exchange has none."""
        markets = self.load_markets()
        if symbol not in markets:
            raise BadSymbol(f"{self.exchange_id} has no market {symbol}.")
        return markets[symbol]

    def loaded_market(self, symbol: str) -> Market:
        """``market(symbol)`` from what this server already holds, never asking the exchange: for web
        requests, which must not wait on one. MarketsNotLoaded when the list would have to be downloaded."""
        return self.market(symbol)  # an implementation whose market list is local needs no more

    @abstractmethod
    def resolve_symbol(self, tv_symbol: str) -> str:
        """The unified symbol for a TradingView ticker (BTCUSDT, BINANCE:BTCUSDT, BTCUSDT.P, BTC/USDT): each
        implementation looks it up among its markets with ``exchanges.symbols.resolve_tv_symbol`` (which
        speaks this module's Market and BadSymbol, so this module cannot import it)."""

    @abstractmethod
    def ticker(self, symbol: str) -> Ticker: ...

    def tickers(self, symbols: list[str]) -> dict[str, Ticker]:
        return {symbol: self.ticker(symbol) for symbol in symbols}

    def price_seen(self, symbol: str, price: Decimal) -> None:  # noqa: B027 - a hook: by default, nothing to do
        """A price of ``symbol`` seen outside the exchange (a chart's close, as an alert reports it).
        A real exchange has prices of its own and ignores it; the paper exchange starts a synthetic
        market that has no price yet from it, so a paper trade starts where its chart is."""

    @abstractmethod
    def create_order(
        self,
        *,
        symbol: str,
        side: str,
        type: str,
        amount: Decimal,
        price: Decimal | None,
        client_order_id: str,
        reduce_only: bool = False,
        position_side: str | None = None,
        margin_mode: str | None = None,
    ) -> ExchangeOrder:
        """Send one order carrying our client order id. Amount (in the base asset) and price must already
        be at precision.

        Derivatives only: ``reduce_only`` marks a close in one-way mode; ``position_side`` (long | short)
        names the hedge-mode leg the order opens or closes (in hedge mode the leg and the side already make
        an order a close, so no reduce-only flag is sent); ``margin_mode`` (isolated | cross) is what
        exchanges that take it per order (OKX ``tdMode``) trade with. Spot callers pass none of them.
        """

    def place_order(
        self,
        *,
        symbol: str,
        side: str,
        type: str,
        amount: Decimal,
        price: Decimal | None,
        client_order_id: str,
        is_retry: bool = False,
        reduce_only: bool = False,
        position_side: str | None = None,
        margin_mode: str | None = None,
    ) -> ExchangeOrder:
        """``create_order``, but a retry first looks the order up by client order id.

        Binance accepts a repeated client id once the first order is no longer open, so a blind
        resend after a lost answer could double the order.
        """
        if is_retry:
            try:
                return self.fetch_order(symbol=symbol, client_order_id=client_order_id)
            except OrderNotFound:
                pass
        order: dict[str, Any] = {
            "symbol": symbol,
            "side": side,
            "type": type,
            "amount": amount,
            "price": price,
            "client_order_id": client_order_id,
        }
        # Derivatives arguments only when given, so a spot order reaches create_order exactly as before.
        if reduce_only:
            order["reduce_only"] = True
        if position_side:
            order["position_side"] = position_side
        if margin_mode:
            order["margin_mode"] = margin_mode
        return self.create_order(**order)

    @abstractmethod
    def cancel_order(self, *, symbol: str, id: str = "", client_order_id: str = "") -> ExchangeOrder | None:
        """Cancel by exchange id or client order id; OrderNotFound when it is gone."""

    @abstractmethod
    def fetch_order(self, *, symbol: str, id: str = "", client_order_id: str = "") -> ExchangeOrder:
        """Look an order up by exchange id or client order id; OrderNotFound when unknown."""

    @abstractmethod
    def fetch_order_trades(self, *, symbol: str, id: str = "", client_order_id: str = "") -> list[Trade]:
        """The fills of one order, each with its fee (for answers that carry none)."""

    @abstractmethod
    def fetch_open_orders(self, symbol: str) -> list[ExchangeOrder]: ...

    @abstractmethod
    def fetch_closed_orders(self, symbol: str, since: datetime | None = None) -> list[ExchangeOrder]:
        """Orders no longer open (filled or canceled) since ``since``."""

    @abstractmethod
    def balance(self) -> Balance: ...

    @abstractmethod
    def candle_intervals(self) -> list[int]:
        """The candle intervals (minutes) ``fetch_candles`` serves, shortest first; known without a request."""

    @abstractmethod
    def fetch_candles(self, symbol: str, *, interval_minutes: int, since: datetime, limit: int) -> list[Candle]:
        """Up to ``limit`` candles of ``interval_minutes`` from the one holding ``since``, oldest first."""

    # --- derivatives (swap accounts) ------------------------------------------------------

    @abstractmethod
    def position_mode(self, symbol: str | None = None) -> str:
        """The account's position mode, ``one_way`` or ``hedge`` (Binance dualSidePosition, Bybit positionIdx,
        OKX posMode). ``symbol``: a market to read it on, for exchanges that say it per market (Bybit)."""

    @abstractmethod
    def set_leverage(
        self, symbol: str, leverage: int, *, margin_mode: str | None = None, position_side: str | None = None
    ) -> None:
        """Set the leverage for ``symbol``; an exchange answering "not modified" / "already set" is success.
        ``margin_mode``/``position_side``: for exchanges that keep a leverage per margin mode and leg (OKX)."""

    @abstractmethod
    def set_margin_mode(self, symbol: str, margin_mode: str, *, leverage: int | None = None) -> None:
        """Trade ``symbol`` isolated or cross; "not modified" / "already set" is success. ``leverage``: for
        exchanges that set both in one request (Bybit classic accounts, OKX)."""

    @abstractmethod
    def fetch_positions(self, symbols: list[str] | None = None) -> list[Position]:
        """The open positions (of ``symbols``, or all), quantities in the base asset; empty ones left out."""

    @abstractmethod
    def fetch_funding_history(self, symbol: str, since: datetime | None = None) -> list[FundingPayment]:
        """Funding paid or received on ``symbol`` since ``since``, oldest first."""

    def fetch_leverage_tiers(self, symbol: str) -> list[MarginTier]:
        """``symbol``'s leverage and maintenance-margin tiers (``exchanges.tiers``), lowest notional first, floors
        in the quote asset. PermanentError when the exchange (or this connector) does not give them."""
        raise PermanentError(f"{self.exchange_id}: reading the leverage tiers is not supported.")
