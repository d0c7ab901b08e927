"""Position statistics by replaying fills in fill order (pure: plain values, no ORM).

Average-cost accounting. Entry fills move the weighted average entry (weighted by the quantity
actually held: a fee paid in the base asset reduces what is held but not the price paid). Exit
fills realise (exit − average) × quantity for a long, (average − exit) × quantity for a short.
An exit fill larger than what is held is never silently capped: the excess is ``oversold_quantity``
(an anomaly the engine shows and alerts; on a spot account it sold coins that were not the
position's), and the holding stays at zero. Every fee, converted to USD at its fill price, is a
realised cost when it is paid. Funding on a swap (received positive, paid negative) is realised as it
is booked: ``replay``'s ``funding`` is added to the realised PnL and kept apart as ``funding_usd``.

``split_funding`` shares one funding payment among the groups that held the position when it was paid.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from trading.vocabulary import Side

ZERO = Decimal(0)
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class FillEvent:
    is_entry: bool  # entry leg fill, or an exit (take-profit, market close)
    quantity: Decimal
    price: Decimal
    fee: Decimal = ZERO
    fee_in_base: bool = False  # True: the fee was paid in the base asset
    at: datetime | None = None
    # What the fee cost in the quote currency when it was paid in a third currency (BNB at its rate);
    # None: the fee is in the base (valued at the fill price) or in the quote itself.
    fee_cost: Decimal | None = None


@dataclass(frozen=True)
class PositionStats:
    side: str
    held_quantity: Decimal
    weighted_avg_entry: Decimal | None
    invested_usd: Decimal
    realized_pnl_usd: Decimal
    fees_usd: Decimal
    bought_quantity: Decimal  # entry quantity filled in total
    closed_quantity: Decimal
    oversold_quantity: Decimal = ZERO  # exits beyond what was held: never expected, always reported
    funding_usd: Decimal = ZERO  # funding received (+) or paid (-), already in realized_pnl_usd

    def unrealized(self, price: Decimal | None) -> tuple[Decimal, Decimal]:
        """(USD, percent of invested) at ``price``; zero without a price or a holding."""
        if price is None or not self.held_quantity or self.weighted_avg_entry is None:
            return ZERO, ZERO
        direction = 1 if self.side == Side.LONG else -1
        usd = direction * (price - self.weighted_avg_entry) * self.held_quantity
        percent = usd / self.invested_usd * HUNDRED if self.invested_usd else ZERO
        return usd, percent


def replay(side: str, fills: list[FillEvent], funding: Decimal = ZERO) -> PositionStats:
    """The statistics after ``fills``; ``funding`` (the sum of the position's funding payments, signed) is
    realised on top of what the fills realised."""
    direction = 1 if side == Side.LONG else -1
    held = bought = closed = realized = fees = oversold = ZERO
    average: Decimal | None = None
    ordered = sorted(enumerate(fills), key=lambda item: (item[1].at is None, item[1].at or 0, item[0]))
    for _, fill in ordered:
        fee_usd = (
            fill.fee_cost if fill.fee_cost is not None else (fill.fee * fill.price if fill.fee_in_base else fill.fee)
        )
        fees += fee_usd
        realized -= fee_usd
        if fill.is_entry:
            received = fill.quantity - (fill.fee if fill.fee_in_base else ZERO)
            average = (
                fill.price
                if average is None or not held
                else (average * held + fill.price * received) / (held + received)
            )
            held += received
            bought += fill.quantity
        else:
            quantity = min(fill.quantity, held)
            oversold += fill.quantity - quantity
            if average is not None:
                realized += direction * (fill.price - average) * quantity
            held -= quantity
            closed += quantity
    invested = average * held if average is not None else ZERO
    return PositionStats(side, held, average, invested, realized + funding, fees, bought, closed, oversold, funding)


def held_at(side: str, fills: list[FillEvent], at: datetime) -> Decimal:
    """What the position held at ``at``: the replay of the fills up to it (a fill without a time counts)."""
    return replay(side, [fill for fill in fills if fill.at is None or fill.at <= at]).held_quantity


# The money fields' precision (core.fields.MONEY: 12 places): a share is never finer than the column.
FUNDING_QUANTUM = Decimal("1e-12")


def split_funding(amount: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """``amount`` shared in proportion to ``weights`` (the quantity each group held, oldest group first).

    The amount is taken at the column's precision; each share is rounded toward zero to ``FUNDING_QUANTUM``;
    what rounding left over goes to the first (oldest) group, so the shares add up to ``amount`` exactly.
    Every weight zero (no group held anything): an empty list, the payment is no group's.
    """
    if any(weight < 0 for weight in weights):
        raise ValueError("funding weights are quantities held: none is negative")
    amount = amount.quantize(FUNDING_QUANTUM)  # what the money column keeps of it
    total = sum(weights, ZERO)
    if not weights or not total:
        return []
    shares = [(amount * weight / total).quantize(FUNDING_QUANTUM, rounding=ROUND_DOWN) for weight in weights]
    shares[0] += amount - sum(shares, ZERO)
    return shares


@dataclass(frozen=True)
class TradeSummary:
    """A finished position's final figures: what its entries and its exits traded, at what averages."""

    entry_quantity: Decimal
    entry_value: Decimal  # quantity × price of every entry fill, in the quote currency
    exit_quantity: Decimal
    exit_value: Decimal

    @property
    def average_entry(self) -> Decimal | None:
        return self.entry_value / self.entry_quantity if self.entry_quantity else None

    @property
    def average_exit(self) -> Decimal | None:
        return self.exit_value / self.exit_quantity if self.exit_quantity else None

    def realized_percent(self, realized: Decimal) -> Decimal | None:
        """``realized`` (fees included) as a percentage of what the closed quantity cost to enter."""
        cost = (self.average_entry or ZERO) * self.exit_quantity
        return realized / cost * HUNDRED if cost else None


def trade_summary(fills: list[FillEvent]) -> TradeSummary:
    entries = [fill for fill in fills if fill.is_entry]
    exits = [fill for fill in fills if not fill.is_entry]
    return TradeSummary(
        entry_quantity=sum((fill.quantity for fill in entries), ZERO),
        entry_value=sum((fill.quantity * fill.price for fill in entries), ZERO),
        exit_quantity=sum((fill.quantity for fill in exits), ZERO),
        exit_value=sum((fill.quantity * fill.price for fill in exits), ZERO),
    )
