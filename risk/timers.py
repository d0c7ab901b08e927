"""Risk timers (pure): when a losing position's countdown starts, expires or resets.

A timer starts when the required number of pyramids are completely filled and the loss is at or
beyond the threshold; it expires ``post_pyramids_wait_minutes`` later, making the position
eligible to be closed by an offset; it resets when the loss recovers above the threshold or the
pyramids are no longer complete. (A new pyramid resets it too: routing clears it when it adds one.)
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

STARTED, EXPIRED, RESET = "timer_started", "timer_expired", "timer_reset"


@dataclass(frozen=True)
class TimerState:
    started_at: datetime | None
    expires_at: datetime | None
    eligible: bool


@dataclass(frozen=True)
class TimerStep:
    state: TimerState
    event: str | None  # STARTED | EXPIRED | RESET | None


def timer_step(
    state: TimerState,
    *,
    now: datetime,
    pyramids_complete: bool,
    loss_percent: Decimal,
    threshold_percent: Decimal,
    wait_minutes: int,
) -> TimerStep:
    conditions_met = pyramids_complete and loss_percent <= threshold_percent
    if state.started_at is None:
        if conditions_met:
            expires = now + timedelta(minutes=wait_minutes)
            return TimerStep(TimerState(now, expires, expires <= now), STARTED)
        return TimerStep(state, None)
    if not conditions_met:
        return TimerStep(TimerState(None, None, False), RESET)
    if not state.eligible and state.expires_at is not None and now >= state.expires_at:
        return TimerStep(TimerState(state.started_at, state.expires_at, True), EXPIRED)
    return TimerStep(state, None)
