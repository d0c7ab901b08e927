"""Which events reach Telegram, when, and how (pure; reference §7.4, §7.5).

``decide`` takes the trader's switches as a plain ``Rules`` value and answers one of: send a new
message, edit the group's message in place, or skip (with the reason, which is stored).
"""

from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ENTRY, PYRAMID, DCA_FILL, STATUS, TP_HIT, EXIT = "entry", "pyramid", "dca_fill", "status", "tp_hit", "exit"
RISK, FAILURE, THRESHOLD, TEST = "risk", "failure", "threshold", "test"

# Failures and risk alerts get through quiet hours when quiet_hours_urgent_only is on. A loss or
# profit threshold alert is not urgent: it is informational, and the risk engine acts on losses.
URGENT = frozenset({FAILURE, RISK})

TOGGLES = {
    ENTRY: "send_entry_signals",
    EXIT: "send_exit_signals",
    STATUS: "send_status_updates",
    DCA_FILL: "send_dca_fill_updates",
    PYRAMID: "send_pyramid_updates",
    TP_HIT: "send_tp_hit_updates",
    FAILURE: "send_failure_alerts",
    RISK: "send_risk_alerts",
    THRESHOLD: "send_risk_alerts",
}
# Events that re-render the group's position card; with update_existing_message they edit it.
CARD_UPDATES = frozenset({DCA_FILL, STATUS, PYRAMID})

NEW, EDIT, SKIP = "new", "edit", "skip"


@dataclass(frozen=True)
class Rules:
    """The TelegramConfig switches that decide delivery (copied off the row)."""

    toggles: dict  # toggle field name -> bool
    update_existing_message: bool = True
    update_on_pyramid: bool = True
    quiet_hours_enabled: bool = False
    quiet_hours_start: time | None = None
    quiet_hours_end: time | None = None
    quiet_hours_urgent_only: bool = True
    time_zone: str = "UTC"


@dataclass(frozen=True)
class Decision:
    action: str  # NEW | EDIT | SKIP
    reason: str = ""


def in_quiet_hours(now_local: time, start: time | None, end: time | None) -> bool:
    """Start inclusive, end exclusive; start > end is an overnight range (22:00–08:00)."""
    if start is None or end is None or start == end:
        return False
    if start < end:
        return start <= now_local < end
    return now_local >= start or now_local < end


def local_time(now: datetime, time_zone: str) -> time:
    try:
        zone = ZoneInfo(time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return now.astimezone(zone).time()


def quiet_hours_block(event_type: str, rules: Rules, now: datetime) -> bool:
    if not rules.quiet_hours_enabled:
        return False
    if not in_quiet_hours(local_time(now, rules.time_zone), rules.quiet_hours_start, rules.quiet_hours_end):
        return False
    return not (rules.quiet_hours_urgent_only and event_type in URGENT)


def decide(event_type: str, rules: Rules, *, now: datetime, has_group_message: bool) -> Decision:
    """New message, edit of the group's card, or skip.

    Edits of the card go out during quiet hours: Telegram does not notify anyone of an edit, so
    they make no noise and keep the card true by morning. Everything else that is not urgent waits
    out quiet hours (it is skipped, as in the reference, not delayed).
    """
    if event_type == TEST:
        return Decision(NEW)
    toggle = TOGGLES.get(event_type)
    if toggle and not rules.toggles.get(toggle, True):
        return Decision(SKIP, f"{toggle} is off")
    if event_type in CARD_UPDATES and has_group_message and rules.update_existing_message:
        if event_type != PYRAMID or rules.update_on_pyramid:
            return Decision(EDIT)
    if quiet_hours_block(event_type, rules, now):
        return Decision(SKIP, "quiet hours")
    return Decision(NEW)


def threshold_crossing(
    kind: str, pnl_percent: Decimal, threshold: Decimal | None, last_state: str | None
) -> str | None:
    """Once per crossing: 'crossed' when the PnL goes beyond the threshold from inside (or first
    time), 'cleared' when it comes back (re-arming the alert), else None.

    ``last_state`` is the last recorded 'crossed'/'cleared' for this group and kind.
    """
    if threshold is None:
        return None
    beyond = pnl_percent <= threshold if kind == "loss" else pnl_percent >= threshold
    if beyond and last_state != "crossed":
        return "crossed"
    if not beyond and last_state == "crossed":
        return "cleared"
    return None
