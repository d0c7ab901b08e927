"""What an exchange account holds and what it is worth in US dollars (pure: plain values, no ORM).

Equity counts every asset the balance reports, free and held by open orders alike (a resting buy's
reserved USDT and a position's coins are still the trader's):

- a USD stablecoin (``exchanges.currency.USD_QUOTES``) one for one;
- any other asset at the last price of ``<ASSET>/USDT`` on the same exchange;
- an asset with no such market, or no price for it, is listed but not counted, and named as such.

On a derivatives (swap) account the exchange's balance is its wallet: margin is included, the
unrealised PnL of open positions is not (the positions table shows that).
"""

from dataclasses import dataclass
from decimal import Decimal

from exchanges.currency import RATE_QUOTE, is_usd

ZERO = Decimal(0)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _number(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


@dataclass(frozen=True)
class Holding:
    """One asset of the account: how much, and what it is worth in USD (None: no price)."""

    asset: str
    free: Decimal
    used: Decimal
    usd_price: Decimal | None
    usd_value: Decimal | None

    @property
    def total(self) -> Decimal:
        return self.free + self.used

    def as_json(self) -> dict:
        """Strings for the numbers (a JSON column keeps them exact)."""
        return {
            "asset": self.asset,
            "free": str(self.free),
            "used": str(self.used),
            "usd_price": _text(self.usd_price),
            "usd_value": _text(self.usd_value),
        }

    @classmethod
    def from_json(cls, data: dict) -> "Holding":
        return cls(
            data["asset"],
            Decimal(data["free"]),
            Decimal(data["used"]),
            _number(data.get("usd_price")),
            _number(data.get("usd_value")),
        )


@dataclass(frozen=True)
class Equity:
    holdings: list[Holding]  # most valuable first, unpriced last
    equity_usd: Decimal
    unpriced: list[str]  # assets held but left out of ``equity_usd``


def usd_price_symbol(asset: str) -> str | None:
    """The market whose last price values ``asset`` in USD; None for a USD stablecoin (worth 1)."""
    return None if is_usd(asset) else f"{asset}/{RATE_QUOTE}"


def account_equity(free: dict[str, Decimal], used: dict[str, Decimal], usd_prices: dict[str, Decimal]) -> Equity:
    """The holdings of a balance (``free`` and ``used`` per asset) valued at ``usd_prices`` (per asset, the
    last price of its ``usd_price_symbol``); assets with nothing held are left out."""
    holdings = []
    for asset in sorted(set(free) | set(used)):
        held_free, held_used = free.get(asset, ZERO), used.get(asset, ZERO)
        if not held_free + held_used:
            continue
        price = Decimal(1) if is_usd(asset) else usd_prices.get(asset)
        value = (held_free + held_used) * price if price is not None else None
        holdings.append(Holding(asset, held_free, held_used, price, value))
    holdings.sort(key=lambda holding: (holding.usd_value is None, -(holding.usd_value or ZERO), holding.asset))
    priced = [holding.usd_value for holding in holdings if holding.usd_value is not None]
    unpriced = [holding.asset for holding in holdings if holding.usd_value is None]
    return Equity(holdings, sum(priced, ZERO), unpriced)
