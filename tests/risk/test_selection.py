"""Risk timers, selection and offset quantities (pure), with the reference scenario's corrected arithmetic."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from risk.selection import Candidate, ineligibility, plan_offset, select_loser, select_winners
from risk.timers import EXPIRED, RESET, STARTED, TimerState, timer_step

D = Decimal
T0 = datetime(2026, 1, 1, tzinfo=UTC)
THRESHOLD = D("-1.5")


def loser(id="btc", percent="-5", usd="-5", created=T0, **kw):
    values = dict(
        id=id,
        side="long",
        status="active",
        unrealized_pnl_usd=D(usd),
        unrealized_pnl_percent=D(percent),
        created_at=created,
        pyramids_complete=True,
        timer_expired=True,
    )
    values.update(kw)
    return Candidate(**values)


def winner(id, usd, held, avg, price, side="long", step="0.001", **kw):
    return Candidate(
        id=id,
        side=side,
        status="active",
        unrealized_pnl_usd=D(usd),
        unrealized_pnl_percent=D("5"),
        created_at=T0,
        held_quantity=D(held),
        average_entry=D(avg),
        current_price=D(price),
        step_size=D(step),
        **kw,
    )


def test_reference_scenario_closes_0_05_eth_and_leaves_sol_untouched():
    btc = loser()
    eth = winner("eth", "200", "2.0", "2000", "2100")
    sol = winner("sol", "50", "10.0", "50", "55")

    winners = select_winners([btc, eth, sol], loser_id="btc", limit=3)
    plan = plan_offset(btc, winners)

    assert [w.id for w in winners] == ["eth", "sol"]
    assert plan.required_usd == D("5")
    eth_close = plan.closes[0]
    assert (eth_close.id, eth_close.quantity, eth_close.profit_usd) == ("eth", D("0.050"), D("5.000"))
    assert len(plan.closes) == 1 and plan.fully_covered


def test_quantity_rounds_up_so_the_loss_is_covered():
    plan = plan_offset(loser(usd="-5.01"), [winner("eth", "200", "2.0", "2000", "2100")])
    assert plan.closes[0].quantity == D("0.051")  # 0.0501 rounded up to the 0.001 lot
    assert plan.fully_covered


def test_quantity_respects_min_notional_and_never_exceeds_what_is_held():
    small = plan_offset(loser(usd="-0.5"), [winner("eth", "200", "2.0", "2000", "2100", min_notional=D("20"))])
    assert small.closes[0].quantity == D("0.010")  # 0.005 would be 10.5 USD, under the 20 USD minimum
    capped = plan_offset(
        loser(usd="-55"), [winner("sol", "50", "10.0", "50", "55"), winner("eth", "10", "0.1", "2000", "2100")]
    )
    assert [c.quantity for c in capped.closes] == [D("10.000"), D("0.050")]  # all of SOL, then 5 USD of ETH
    assert capped.covered_usd == D("55") and capped.fully_covered


def test_insufficient_winners_are_reported_as_not_covered():
    plan = plan_offset(loser(usd="-300"), [winner("eth", "200", "2.0", "2000", "2100")])
    assert plan.covered_usd == D("200") and not plan.fully_covered


def test_short_winners_profit_when_price_falls():
    plan = plan_offset(loser(usd="-10"), [winner("ethshort", "100", "1.0", "2100", "2000", side="short")])
    assert plan.closes[0].quantity == D("0.100")


def test_loser_ranking_percent_then_usd_then_age():
    a = loser("a", percent="-5", usd="-50", created=T0)
    b = loser("b", percent="-7", usd="-10", created=T0)
    c = loser("c", percent="-7", usd="-20", created=T0 + timedelta(hours=1))
    d = loser("d", percent="-7", usd="-20", created=T0)
    assert select_loser([a, b, c, d], THRESHOLD).id == "d"
    assert select_loser([a, b], THRESHOLD).id == "b"


def test_each_eligibility_condition():
    assert ineligibility(loser(), THRESHOLD) is None
    assert ineligibility(loser(blocked=True), THRESHOLD) == "blocked by the trader"
    assert ineligibility(loser(skip_once=True), THRESHOLD) == "skipped once by the trader"
    assert "not completely filled" in ineligibility(loser(pyramids_complete=False), THRESHOLD)
    assert "not beyond" in ineligibility(loser(percent="-1"), THRESHOLD)
    assert "timer has not expired" in ineligibility(loser(timer_expired=False), THRESHOLD)
    assert "status is closing" == ineligibility(loser(status="closing"), THRESHOLD)
    assert select_loser([loser(blocked=True)], THRESHOLD) is None


def test_timer_starts_expires_and_resets():
    idle = TimerState(None, None, False)
    common = {"threshold_percent": THRESHOLD, "wait_minutes": 15}

    started = timer_step(idle, now=T0, pyramids_complete=True, loss_percent=D("-2"), **common)
    assert started.event == STARTED and started.state.expires_at == T0 + timedelta(minutes=15)
    waiting = timer_step(
        started.state, now=T0 + timedelta(minutes=14), pyramids_complete=True, loss_percent=D("-2"), **common
    )
    assert waiting.event is None and not waiting.state.eligible
    expired = timer_step(
        started.state, now=T0 + timedelta(minutes=15), pyramids_complete=True, loss_percent=D("-2"), **common
    )
    assert expired.event == EXPIRED and expired.state.eligible
    recovered = timer_step(
        expired.state, now=T0 + timedelta(minutes=16), pyramids_complete=True, loss_percent=D("-1"), **common
    )
    assert recovered.event == RESET and recovered.state == idle
    incomplete = timer_step(started.state, now=T0, pyramids_complete=False, loss_percent=D("-2"), **common)
    assert incomplete.event == RESET


def test_timer_does_not_start_without_both_conditions():
    idle = TimerState(None, None, False)
    for complete, loss in ((False, "-5"), (True, "-1")):
        step = timer_step(
            idle, now=T0, pyramids_complete=complete, loss_percent=D(loss), threshold_percent=THRESHOLD, wait_minutes=15
        )
        assert step.event is None and step.state == idle


def test_the_offset_covers_both_sides_closing_fees():
    # Row 12: coverage ignored fees, so an offset that "covered" the loss lost money once fees were paid.
    from risk.selection import plan_offset

    loser = Candidate(
        id="btc",
        side="long",
        status="active",
        unrealized_pnl_usd=D("-5"),
        unrealized_pnl_percent=D("-5"),
        created_at=None,
        held_quantity=D("1"),
        current_price=D("95"),
        taker_fee_percent=D("0.1"),
    )
    winner = Candidate(
        id="eth",
        side="long",
        status="active",
        unrealized_pnl_usd=D("200"),
        unrealized_pnl_percent=D("5"),
        created_at=None,
        held_quantity=D("2"),
        average_entry=D("2000"),
        current_price=D("2100"),
        step_size=D("0.001"),
        taker_fee_percent=D("0.1"),
    )

    plan = plan_offset(loser, [winner])

    assert plan.required_usd == D("5.095")  # the loss and 0.1 % of closing 95 USD of BTC
    # 100 USD a unit less the 2.10 fee of selling it: 5.095 / 97.9 = 0.05204… → 0.053 (rounded up)
    assert plan.closes[0].quantity == D("0.053")
    assert plan.fully_covered
