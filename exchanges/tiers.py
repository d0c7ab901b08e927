"""Leverage and maintenance-margin tiers of a perpetual swap (pure: no ORM, no exchange call).

An exchange caps a position's leverage, and raises its maintenance margin, by the position's notional
(quantity × price, in the quote asset): a tier holds the notionals from its ``floor`` up to the next
tier's floor, with the largest leverage allowed there and a maintenance-margin rate ``r``. Maintenance
margin = notional × r − c, where the maintenance amount ``c`` makes it continuous across tiers:
c(n) = c(n−1) + floor(n) × (r(n) − r(n−1)), c(1) = 0 (the exchanges publish the same numbers: Binance's
``cum``, Bybit's ``mmDeduction``).

The connectors read an exchange's table (``Connector.fetch_leverage_tiers``: Binance
``/fapi/v1/leverageBracket``, Bybit ``/v5/market/risk-limit``, OKX ``/api/v5/public/position-tiers``)
and build it with ``margin_tiers``. Where none is known (the paper exchange, a preview without an account)
``BINANCE_BTCUSDT_TIERS`` stands in: Binance USDⓈ-M BTCUSDT's first tiers, from Binance's "Leverage and
Margin of USDⓈ-M Futures" page (https://www.binance.com/en/futures/trading-rules/perpetual/leverage-margin,
BTCUSDT; also served by ``GET /fapi/v1/leverageBracket``): up to 50,000 USDT notional 125× and 0.40 %, to
500,000 100× and 0.50 %, to 8,000,000 50× and 1.00 %, to 50,000,000 20× and 2.50 %, to 80,000,000 10× and
5.00 %. Other symbols and exchanges have steeper tables (altcoins often start at 0.5–1 %).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True)
class MarginTier:
    """Maintenance margin and the leverage cap for notionals from ``floor`` (to the next tier's floor)."""

    floor: Decimal  # quote asset (USDT): the smallest notional of the tier
    max_leverage: int
    rate: Decimal  # maintenance-margin rate, a fraction: 0.004 = 0.40 %
    amount: Decimal  # maintenance amount: maintenance margin = notional × rate − amount

    def maintenance_margin(self, notional: Decimal) -> Decimal:
        return notional * self.rate - self.amount

    def as_json(self) -> dict:
        return {"floor": str(self.floor), "max_leverage": self.max_leverage, "rate": str(self.rate)}


def margin_tiers(*rows: tuple[int | str | Decimal, int, str | Decimal]) -> tuple[MarginTier, ...]:
    """Tiers from (notional floor, max leverage, rate) rows, lowest first; each tier's maintenance
    amount follows from the ones before it, so the maintenance margin is continuous."""
    tiers: list[MarginTier] = []
    for floor, max_leverage, rate in sorted(rows, key=lambda row: Decimal(row[0])):
        previous = tiers[-1] if tiers else None
        amount = ZERO if previous is None else previous.amount + Decimal(floor) * (Decimal(rate) - previous.rate)
        tiers.append(MarginTier(Decimal(floor), int(max_leverage), Decimal(rate), amount))
    return tuple(tiers)


def tiers_from_json(rows: Iterable[dict]) -> tuple[MarginTier, ...]:
    """Tiers stored with ``MarginTier.as_json`` (a cache), amounts recomputed."""
    return margin_tiers(*((row["floor"], row["max_leverage"], row["rate"]) for row in rows))


# Binance USDⓈ-M BTCUSDT (source in the module docstring). Maintenance amounts: 0, 50, 2,550, 122,550, 1,372,550.
BINANCE_BTCUSDT_TIERS = margin_tiers(
    (0, 125, "0.004"),
    (50_000, 100, "0.005"),
    (500_000, 50, "0.01"),
    (8_000_000, 20, "0.025"),
    (50_000_000, 10, "0.05"),
)


def tier_for(notional: Decimal, tiers: Sequence[MarginTier] = BINANCE_BTCUSDT_TIERS) -> MarginTier:
    """The tier holding ``notional`` (the last tier beyond the table)."""
    found = tiers[0]
    for tier in tiers:
        if notional >= tier.floor:
            found = tier
    return found


def maintenance_margin(notional: Decimal, tiers: Sequence[MarginTier] = BINANCE_BTCUSDT_TIERS) -> Decimal:
    """The maintenance margin of a position of ``notional`` (quote asset)."""
    return tier_for(notional, tiers).maintenance_margin(notional)


def liquidation_price(
    *,
    side: str,
    quantity: Decimal,
    entry: Decimal,
    collateral: Decimal,
    tiers: Sequence[MarginTier] = BINANCE_BTCUSDT_TIERS,
) -> Decimal:
    """The price P where a position's ``collateral`` plus its unrealised PnL equals the maintenance margin at P
    (fees left out), the tier being the one holding the notional there (Q·P), as an exchange evaluates it:

        long:  M + Q·(P − A) = Q·P·r − c   →   P = (Q·A − M − c) / (Q·(1 − r))
        short: M + Q·(A − P) = Q·P·r − c   →   P = (Q·A + M + c) / (Q·(1 + r))

    (Q base quantity, A average entry, M collateral: an isolated position's margin, a cross one's share of the
    pool). Each tier's P is computed and the first self-consistent one kept (with a continuous table there is
    one); if none is (a table whose amounts do not join up), the entry notional's tier. ``side`` is "long" or
    "short". The answer may be zero or negative (no liquidation above zero): the caller decides what that means.
    Both the engine's estimate (``trading.liquidation``) and the paper exchange (``exchanges.paper.swaps``) use it.
    """
    cost = quantity * entry
    candidates = []
    for index, tier in enumerate(tiers):
        if side == "long":
            price = (cost - collateral - tier.amount) / (quantity * (1 - tier.rate))
        else:
            price = (cost + collateral + tier.amount) / (quantity * (1 + tier.rate))
        candidates.append(price)
        notional = quantity * max(price, ZERO)
        ceiling = tiers[index + 1].floor if index + 1 < len(tiers) else None
        if notional >= tier.floor and (ceiling is None or notional < ceiling):
            return price
    return candidates[list(tiers).index(tier_for(cost, tiers))]


def capped_leverage(configured: int, notional: Decimal, tiers: Sequence[MarginTier]) -> int:
    """The leverage a position of ``notional`` may use: ``configured``, lowered to the cap of the tier
    holding ``notional`` (never below 1)."""
    return max(1, min(int(configured), tier_for(notional, tiers).max_leverage))
