"""Risk selection and offset quantities (pure: plain values, no ORM).

The loser is the eligible position losing the most (percent, then USD, then oldest); the winners
are the most profitable others, up to ``max_winners_to_combine``. Each winner gives up just enough
profit to pay for the loss: quantity = profit to take ÷ profit per unit, rounded UP to the lot size
so the loss is covered, at least the exchange minimum, at most what is held. (The reference's worked
example closes 0.025 ETH for a 5 USD loss at 100 USD profit per unit; 0.05 is the right figure.)

Fees count on both sides: the loss to cover includes the taker fee of closing the loser, and each
winner's profit per unit is net of the taker fee of its own close (``taker_fee_percent``, the
account's estimate), so an offset that "covers" the loss really does once the fees are paid.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from exchanges.numbers import round_to_step
from trading.vocabulary import Side

ZERO = Decimal(0)


@dataclass(frozen=True)
class Candidate:
    """One open position as the risk engine sees it."""

    id: object
    side: str
    status: str
    unrealized_pnl_usd: Decimal
    unrealized_pnl_percent: Decimal
    created_at: datetime
    blocked: bool = False
    skip_once: bool = False
    pyramids_complete: bool = False
    timer_expired: bool = False
    # For winners: what a partial close needs.
    held_quantity: Decimal = ZERO
    average_entry: Decimal | None = None
    current_price: Decimal | None = None
    step_size: Decimal = Decimal("0.00000001")
    min_qty: Decimal = ZERO
    min_notional: Decimal = ZERO
    taker_fee_percent: Decimal = ZERO  # what a market close of this position costs, in % of its value
    # USD per unit of the market's quote (1 for USDT): prices are in the quote, PnL here in USD.
    # None while unknown: such a position is neither a loser nor a winner.
    usd_rate: Decimal | None = Decimal(1)


LOSER_STATUSES = ("active", "partially_filled")


def ineligibility(candidate: Candidate, threshold_percent: Decimal) -> str | None:
    """Why a position cannot be the loser now, in words; None when it can."""
    if candidate.status not in LOSER_STATUSES:
        return f"status is {candidate.status}"
    if candidate.usd_rate is None:
        return "its quote currency has no USD price yet"
    if candidate.blocked:
        return "blocked by the trader"
    if candidate.skip_once:
        return "skipped once by the trader"
    if not candidate.pyramids_complete:
        return "required pyramids are not completely filled"
    if candidate.unrealized_pnl_percent > threshold_percent:
        return f"loss {candidate.unrealized_pnl_percent:.2f}% is not beyond {threshold_percent.normalize():f}%"
    if not candidate.timer_expired:
        return "risk timer has not expired"
    return None


def select_loser(candidates: list[Candidate], threshold_percent: Decimal) -> Candidate | None:
    eligible = [c for c in candidates if ineligibility(c, threshold_percent) is None]
    if not eligible:
        return None
    return min(eligible, key=lambda c: (c.unrealized_pnl_percent, c.unrealized_pnl_usd, c.created_at))


def select_winners(candidates: list[Candidate], *, loser_id, limit: int) -> list[Candidate]:
    winners = [
        c
        for c in candidates
        if c.id != loser_id
        and c.unrealized_pnl_usd > 0
        and c.status in LOSER_STATUSES
        and c.held_quantity > 0
        and c.usd_rate is not None
    ]
    return sorted(winners, key=lambda c: (-c.unrealized_pnl_usd, c.created_at))[:limit]


@dataclass(frozen=True)
class WinnerClose:
    id: object
    quantity: Decimal
    profit_usd: Decimal
    price: Decimal


@dataclass(frozen=True)
class OffsetPlan:
    required_usd: Decimal
    closes: list[WinnerClose]

    @property
    def covered_usd(self) -> Decimal:
        return sum((c.profit_usd for c in self.closes), ZERO)

    @property
    def fully_covered(self) -> bool:
        return self.covered_usd >= self.required_usd


def plan_offset(loser: Candidate, winners: list[Candidate]) -> OffsetPlan:
    """How much of each winner to close to pay for the loser's loss."""
    closing_fee = (
        loser.held_quantity * loser.current_price * loser.taker_fee_percent / 100 * loser.usd_rate
        if loser.current_price is not None and loser.usd_rate is not None
        else ZERO
    )
    required = abs(loser.unrealized_pnl_usd) + closing_fee
    needed = required
    closes = []
    for winner in winners:
        if needed <= 0:
            break
        if winner.current_price is None or winner.average_entry is None or winner.usd_rate is None:
            continue
        per_unit = (
            winner.current_price - winner.average_entry
            if winner.side == Side.LONG
            else winner.average_entry - winner.current_price
        )
        per_unit -= winner.current_price * winner.taker_fee_percent / 100
        per_unit *= winner.usd_rate  # USD per unit sold
        if per_unit <= 0:
            continue
        take = min(winner.unrealized_pnl_usd, needed)
        quantity = round_to_step(take / per_unit, winner.step_size, up=True)
        floor = max(
            winner.min_qty,
            round_to_step(winner.min_notional / winner.current_price, winner.step_size, up=True)
            if winner.min_notional
            else ZERO,
        )
        quantity = max(quantity, floor)
        quantity = min(quantity, round_to_step(winner.held_quantity, winner.step_size))
        if quantity <= 0 or quantity < floor:
            continue
        profit = quantity * per_unit
        closes.append(WinnerClose(winner.id, quantity, profit, winner.current_price))
        needed -= profit
    return OffsetPlan(required, closes)
