"""Execution pool and queue priority (pure: plain values, no ORM).

The pool decides whether a new entry may open now; the queue ranks the entries that had to wait.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from trading.vocabulary import Side

ZERO = Decimal(0)


@dataclass(frozen=True)
class PoolLimits:
    max_open_positions_global: int
    max_open_positions_per_symbol: int
    max_total_exposure_usd: Decimal
    max_realized_loss_usd: Decimal
    force_stopped: bool = False


@dataclass(frozen=True)
class PoolUsage:
    open_positions: int
    open_on_symbol: int
    exposure_usd: Decimal  # capital committed by the user's active groups
    realized_loss_today_usd: Decimal  # positive number: today's net realised loss


@dataclass(frozen=True)
class SlotDecision:
    granted: bool
    reason: str = ""
    loss_limit_hit: bool = False


def slot_decision(
    limits: PoolLimits, usage: PoolUsage, *, new_exposure_usd: Decimal, symbol: str, opens_position: bool = True
) -> SlotDecision:
    """May an entry committing ``new_exposure_usd`` go ahead? ``opens_position`` False for a pyramid."""
    if limits.force_stopped:
        return SlotDecision(False, "the engine is force-stopped (start it again on the dashboard)")
    if usage.realized_loss_today_usd >= limits.max_realized_loss_usd:
        return SlotDecision(
            False,
            f"today's realised loss {usage.realized_loss_today_usd:.2f} USD reached max_realized_loss_usd "
            f"{limits.max_realized_loss_usd:.2f}: new entries are paused until tomorrow",
            loss_limit_hit=True,
        )
    if opens_position and usage.open_positions >= limits.max_open_positions_global:
        return SlotDecision(False, f"all {limits.max_open_positions_global} position slots are in use")
    if opens_position and usage.open_on_symbol >= limits.max_open_positions_per_symbol:
        return SlotDecision(
            False,
            f"{usage.open_on_symbol} position(s) already open on {symbol} "
            f"(limit {limits.max_open_positions_per_symbol})",
        )
    if usage.exposure_usd + new_exposure_usd > limits.max_total_exposure_usd:
        return SlotDecision(
            False,
            f"exposure would reach {usage.exposure_usd + new_exposure_usd:.2f} USD, over max_total_exposure_usd "
            f"{limits.max_total_exposure_usd:.2f}",
        )
    return SlotDecision(True)


@dataclass(frozen=True)
class QueueCandidate:
    id: object
    is_pyramid_continuation: bool
    loss_percent: Decimal | None  # current price versus the queued entry price; negative = deeper loss
    replacement_count: int
    queued_at: datetime


def loss_percent(side: str, entry_price: Decimal, current_price: Decimal | None) -> Decimal | None:
    """How far the market has moved against the queued entry (negative: the entry is now cheaper for a long)."""
    if current_price is None or not entry_price:
        return None
    move = (current_price - entry_price) / entry_price * 100
    return move if side == Side.LONG else -move


def rank_queue(candidates: list[QueueCandidate], rules: dict[str, bool]) -> list[QueueCandidate]:
    """Promotion order: continuation, deepest loss %, most replaced, oldest — each rule switchable."""

    def key(candidate: QueueCandidate):
        parts: list[object] = []
        if rules.get("same_pair_timeframe", True):
            parts.append(0 if candidate.is_pyramid_continuation else 1)
        if rules.get("deepest_loss_percent", True):
            parts.append(candidate.loss_percent if candidate.loss_percent is not None else Decimal("Infinity"))
        if rules.get("highest_replacement", True):
            parts.append(-candidate.replacement_count)
        if rules.get("fifo_fallback", True):
            parts.append(candidate.queued_at)
        parts.append(str(candidate.id))  # deterministic when every rule is off
        return parts

    return sorted(candidates, key=key)
