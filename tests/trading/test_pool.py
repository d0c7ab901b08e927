"""Pool slot decisions and queue ranking (pure)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from trading.pool import PoolLimits, PoolUsage, QueueCandidate, loss_percent, rank_queue, slot_decision

D = Decimal
LIMITS = PoolLimits(
    max_open_positions_global=3,
    max_open_positions_per_symbol=1,
    max_total_exposure_usd=D("5000"),
    max_realized_loss_usd=D("500"),
)


def usage(**overrides):
    values = {"open_positions": 0, "open_on_symbol": 0, "exposure_usd": D("0"), "realized_loss_today_usd": D("0")}
    values.update(overrides)
    return PoolUsage(**values)


def test_a_free_pool_grants_the_slot():
    assert slot_decision(LIMITS, usage(), new_exposure_usd=D("1000"), symbol="BTC/USDT").granted


@pytest.mark.parametrize(
    "used,reason",
    [
        ({"open_positions": 3}, "all 3 position slots are in use"),
        ({"open_on_symbol": 1}, "1 position(s) already open on BTC/USDT (limit 1)"),
        ({"exposure_usd": D("4500")}, "exposure would reach 5500.00 USD, over max_total_exposure_usd 5000.00"),
        ({"realized_loss_today_usd": D("500")}, "reached max_realized_loss_usd 500.00"),
    ],
)
def test_each_limit_refuses_with_its_reason(used, reason):
    decision = slot_decision(LIMITS, usage(**used), new_exposure_usd=D("1000"), symbol="BTC/USDT")
    assert not decision.granted
    assert reason in decision.reason


def test_loss_limit_is_flagged_as_the_circuit_breaker():
    decision = slot_decision(LIMITS, usage(realized_loss_today_usd=D("600")), new_exposure_usd=D("1"), symbol="X/Y")
    assert decision.loss_limit_hit


def test_force_stop_refuses_everything():
    stopped = PoolLimits(3, 1, D("5000"), D("500"), force_stopped=True)
    assert "force-stopped" in slot_decision(stopped, usage(), new_exposure_usd=D("1"), symbol="X/Y").reason


def test_a_pyramid_does_not_need_a_position_slot_but_counts_exposure():
    full = usage(open_positions=3, open_on_symbol=1)
    assert slot_decision(LIMITS, full, new_exposure_usd=D("1000"), symbol="BTC/USDT", opens_position=False).granted
    assert not slot_decision(
        LIMITS, usage(exposure_usd=D("4500")), new_exposure_usd=D("1000"), symbol="BTC/USDT", opens_position=False
    ).granted


def test_loss_percent_is_negative_when_the_market_moved_below_a_long_entry():
    assert loss_percent("long", D("100"), D("97")) == D("-3")
    assert loss_percent("short", D("100"), D("103")) == D("-3")
    assert loss_percent("long", D("100"), None) is None


T0 = datetime(2026, 1, 1, tzinfo=UTC)
A = QueueCandidate("a", False, D("-1"), 0, T0)  # oldest
B = QueueCandidate("b", False, D("-5"), 0, T0 + timedelta(minutes=1))  # deepest loss
C = QueueCandidate("c", False, D("0"), 4, T0 + timedelta(minutes=2))  # most replaced
P = QueueCandidate("p", True, D("2"), 0, T0 + timedelta(minutes=3))  # pyramid continuation
ALL_ON = {"same_pair_timeframe": True, "deepest_loss_percent": True, "highest_replacement": True, "fifo_fallback": True}


def ids(rules):
    return [c.id for c in rank_queue([A, B, C, P], {**ALL_ON, **rules})]


def test_continuation_first_then_deepest_loss_then_replacements_then_fifo():
    assert ids({}) == ["p", "b", "a", "c"]


def test_each_rule_can_be_switched_off():
    assert ids({"same_pair_timeframe": False}) == ["b", "a", "c", "p"]
    assert ids({"same_pair_timeframe": False, "deepest_loss_percent": False}) == ["c", "a", "b", "p"]
    assert ids({"same_pair_timeframe": False, "deepest_loss_percent": False, "highest_replacement": False}) == [
        "a",
        "b",
        "c",
        "p",
    ]


def test_unknown_price_ranks_after_known_losses():
    unknown = QueueCandidate("u", False, None, 0, T0 - timedelta(minutes=5))
    assert [c.id for c in rank_queue([unknown, A], ALL_ON)] == ["a", "u"]
