"""Delivery rules: toggles, quiet hours (overnight, time zones, urgent-only), edit versus new."""

from datetime import UTC, datetime, time
from decimal import Decimal as D

import pytest

from notifications.rules import (
    EDIT,
    NEW,
    SKIP,
    TOGGLES,
    Rules,
    decide,
    in_quiet_hours,
    threshold_crossing,
)


def rules(**changes) -> Rules:
    fields = dict(toggles={name: True for name in TOGGLES.values()})
    fields.update(changes)
    return Rules(**fields)


def at(hour, minute=0):
    return datetime(2026, 1, 15, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    "now, start, end, quiet",
    [
        (time(23, 0), time(22, 0), time(8, 0), True),  # overnight, before midnight
        (time(3, 0), time(22, 0), time(8, 0), True),  # overnight, after midnight
        (time(22, 0), time(22, 0), time(8, 0), True),  # start is inclusive
        (time(8, 0), time(22, 0), time(8, 0), False),  # end is exclusive
        (time(12, 0), time(22, 0), time(8, 0), False),
        (time(13, 0), time(12, 0), time(14, 0), True),  # same-day range
        (time(14, 30), time(12, 0), time(14, 0), False),
        (time(11, 59), time(12, 0), time(14, 0), False),
        (time(12, 0), time(12, 0), time(12, 0), False),  # empty range
    ],
)
def test_quiet_hours_ranges(now, start, end, quiet):
    assert in_quiet_hours(now, start, end) is quiet


QUIET = dict(quiet_hours_enabled=True, quiet_hours_start=time(22, 0), quiet_hours_end=time(8, 0))


@pytest.mark.parametrize(
    "event, urgent_only, expected",
    [
        ("entry", True, SKIP),
        ("exit", True, SKIP),
        ("tp_hit", True, SKIP),
        ("threshold", True, SKIP),
        ("failure", True, NEW),
        ("risk", True, NEW),
        ("entry", False, SKIP),
        ("failure", False, SKIP),
        ("risk", False, SKIP),
    ],
)
def test_quiet_hours_urgent_only_matrix(event, urgent_only, expected):
    decision = decide(event, rules(**QUIET, quiet_hours_urgent_only=urgent_only), now=at(23), has_group_message=False)
    assert decision.action == expected
    if expected == SKIP:
        assert decision.reason == "quiet hours"


def test_outside_quiet_hours_everything_goes():
    assert decide("entry", rules(**QUIET), now=at(12), has_group_message=False).action == NEW


def test_quiet_hours_follow_the_traders_time_zone():
    # 14:00 UTC is 23:00 in Tokyo: quiet there, not in London.
    assert decide("entry", rules(**QUIET, time_zone="Asia/Tokyo"), now=at(14), has_group_message=False).action == SKIP
    assert decide("entry", rules(**QUIET, time_zone="Europe/London"), now=at(14), has_group_message=False).action == NEW
    # An unknown zone falls back to UTC instead of failing.
    assert decide("entry", rules(**QUIET, time_zone="Mars/Olympus"), now=at(23), has_group_message=False).action == SKIP


def test_toggles_silence_their_type():
    off = rules(toggles={**{n: True for n in TOGGLES.values()}, "send_exit_signals": False})
    decision = decide("exit", off, now=at(12), has_group_message=True)
    assert (decision.action, decision.reason) == (SKIP, "send_exit_signals is off")
    assert decide("entry", off, now=at(12), has_group_message=False).action == NEW


@pytest.mark.parametrize(
    "event, has_message, update_existing, update_on_pyramid, expected",
    [
        ("dca_fill", True, True, True, EDIT),
        ("status", True, True, True, EDIT),
        ("pyramid", True, True, True, EDIT),
        ("pyramid", True, True, False, NEW),  # update_on_pyramid off: a new message per pyramid
        ("dca_fill", True, False, True, NEW),  # update_existing_message off: a new message per fill
        ("dca_fill", False, True, True, NEW),  # no card to edit yet
        ("exit", True, True, True, NEW),  # a close is always a new message
        ("tp_hit", True, True, True, NEW),
    ],
)
def test_edit_versus_new(event, has_message, update_existing, update_on_pyramid, expected):
    decision = decide(
        event,
        rules(update_existing_message=update_existing, update_on_pyramid=update_on_pyramid),
        now=at(12),
        has_group_message=has_message,
    )
    assert decision.action == expected


def test_card_edits_are_silent_so_they_go_out_in_quiet_hours():
    assert decide("dca_fill", rules(**QUIET), now=at(23), has_group_message=True).action == EDIT
    assert decide("dca_fill", rules(**QUIET), now=at(23), has_group_message=False).action == SKIP


def test_threshold_alert_once_per_crossing():
    threshold = D("-5")
    assert threshold_crossing("loss", D("-4"), threshold, None) is None
    assert threshold_crossing("loss", D("-5"), threshold, None) == "crossed"
    assert threshold_crossing("loss", D("-7"), threshold, "crossed") is None  # still beyond: no repeat
    assert threshold_crossing("loss", D("-3"), threshold, "crossed") == "cleared"  # recovered: re-armed
    assert threshold_crossing("loss", D("-6"), threshold, "cleared") == "crossed"  # a second crossing
    assert threshold_crossing("profit", D("6"), D("5"), None) == "crossed"
    assert threshold_crossing("profit", D("6"), None, None) is None
