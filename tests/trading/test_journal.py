"""The engine's journal: each writer's entry reads, word for word, as the risk app's f-string notes did
(the risk page, the API's ``notes`` and the admin show ``summary``); rows written before the move keep
their text; only ``trading.journal`` creates rows; a fill that changed positions evaluates the trader
when ``evaluate_on_fill`` is on (the ``fills_synced`` hook: trading does not import risk)."""

import ast
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.utils import timezone

from tests.factories import OrderFactory, PositionGroupFactory, PyramidFactory
from trading import journal
from trading.models import JournalEntry, RiskConfig

pytestmark = pytest.mark.django_db
D = Decimal
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def group(trader):
    return PositionGroupFactory(
        user=trader,
        exchange_account=trader.exchange_accounts.get(),
        symbol="ETH/USDT",
        timeframe=60,
        side="long",
        status="active",
        unrealized_pnl_percent=D("-2.346"),
        unrealized_pnl_usd=D("-23.456"),
        weighted_avg_entry=D("100"),
        realized_pnl_usd=D("-12.5"),
        total_filled_quantity=D("2"),
        current_price=D("97"),
    )


def test_a_close_names_the_position_and_its_exit_reason(group):
    entry = journal.trade_closed(group, reason="aggregate_tp", quantity_closed=D("2"), exit_value=D("195"))

    entry.refresh_from_db()
    assert entry.summary == "long ETH/USDT 60m closed (Aggregate take-profit)"
    assert (entry.kind, entry.exit_price, entry.quantity_closed, entry.pnl_percent) == (
        "close",
        D("97.5"),
        D("2"),
        D("-6.25"),
    )


def test_a_position_the_exchange_closed_says_what_was_expected_held_and_estimated(group):
    lost = {
        "expected": D("2"),
        "on_exchange": D("0.5"),
        "unmanaged": D("0.5"),
        "cancelled": 3,
        "price": D("97"),
        "price_source": "mark",
    }
    entry = journal.position_lost(
        group, reason="closed_on_exchange", quantity_closed=D("2"), exit_value=D("194"), lost=lost
    )

    entry.refresh_from_db()
    assert entry.summary == (
        "long ETH/USDT 60m closed (Closed on exchange): the engine expected 2 ETH, the exchange "
        "held 0.5; 3 resting order(s) cancelled; exit price estimated at the last mark price 97. The 0.5 ETH "
        "left on the exchange are no longer managed by the engine."
    )
    assert (entry.kind, entry.exit_reason, entry.exit_price) == ("close", "closed_on_exchange", D("97"))


def test_timer_entries_give_the_position_and_its_loss_or_the_pyramid_that_reset_it(group):
    started, expired, reset = journal.timer_started(group), journal.timer_expired(group), journal.timer_reset(group)
    by_pyramid = journal.timer_reset(group, pyramid_added=3)

    for entry in (started, expired, reset, by_pyramid):
        entry.refresh_from_db()
    assert [e.kind for e in (started, expired, reset)] == ["timer_started", "timer_expired", "timer_reset"]
    assert started.summary == expired.summary == reset.summary == "long ETH/USDT 60m at -2.35%"
    assert by_pyramid.summary == "pyramid 3 added"


def test_an_offset_says_what_covers_the_loss_then_what_became_of_the_winners(group):
    winners = [{"group_id": "x", "symbol": "BTC/USDT", "quantity_closed": "0.1", "pnl_usd": "30", "price": "1"}]
    entry = journal.offset_recorded(
        group,
        required_usd=D("25.5"),
        covered_usd=D("30.004"),
        winner_details=winners,
        exit_reason="risk_offset",
        now=timezone.now(),
    )
    base = (
        "Closing ETH/USDT (-23.46 USD); winners cover 30.00 of 25.50 USD, closing fees included; they are "
        "reduced once the loser's close has filled."
    )
    assert JournalEntry.objects.get(pk=entry.pk).summary == base

    journal.offset_winners_dispatched(entry)
    assert JournalEntry.objects.get(pk=entry.pk).summary == base + " The loser closed; 1 winner close(s) sent."

    entry.winners_state = "waiting"
    journal.offset_winners_cancelled(entry, reason="Insufficient funds")
    assert JournalEntry.objects.get(pk=entry.pk).summary == (
        base + " The loser's close failed (Insufficient funds); the winners were left untouched."
    )


def test_engine_entries(trader):
    paused = journal.engine_paused(trader, loss_usd=D("512.346"), max_realized_loss_usd=D("500"))
    stopped = journal.engine_force_stopped(trader, by="the trader")
    started = journal.engine_force_started(trader, by="an operator", paused_by_loss_limit=False)
    still_paused = journal.engine_force_started(trader, by="the trader", paused_by_loss_limit=True)

    assert JournalEntry.objects.get(pk=paused.pk).realized_pnl_usd == D("-512.346")
    assert JournalEntry.objects.get(pk=paused.pk).summary == (
        "Realised loss today 512.35 USD reached max_realized_loss_usd 500.00: new entries paused until tomorrow."
    )
    assert stopped.summary == "Engine force-stopped by the trader: new entries are queued until it is started again."
    assert started.summary == "Engine started again by an operator: queued entries are promoted."
    assert still_paused.summary == (
        "Engine started again by the trader: queued entries are promoted. New entries stay "
        "paused by the daily loss limit (max_realized_loss_usd)."
    )


def test_a_traders_control_names_the_position_its_figures_and_what_it_does(group):
    blocked, unblocked, skipped = (
        journal.group_blocked(group),
        journal.group_unblocked(group),
        journal.group_skipped_once(group),
    )

    said = "long ETH/USDT 60m position on binance at -2.35% (-23.46 USD)"
    assert [JournalEntry.objects.get(pk=e.pk).summary for e in (blocked, unblocked, skipped)] == [
        f"{said} blocked by the trader: it will not be closed as the loser until unblocked.",
        f"{said} unblocked by the trader: it may be closed as the loser again.",
        f"{said} skipped once by the trader: the next evaluation will not close it as the loser.",
    ]
    assert [e.kind for e in (blocked, unblocked, skipped)] == ["manual_block", "manual_unblock", "manual_skip"]


def test_an_orphan_says_what_was_cancelled_and_what_the_database_knew(group):
    account = group.exchange_account
    state = SimpleNamespace(
        side="buy", amount=D("1.500"), filled=D("0.5"), symbol="ETH/USDT", price=D("90.00"), client_order_id="dce-1"
    )
    order = OrderFactory(group=group, pyramid=PyramidFactory(group=group), status="cancelled")

    unknown = journal.orphan_cancelled(account, state)
    known = journal.orphan_cancelled(account, state, order)

    assert JournalEntry.objects.get(pk=unknown.pk).summary == (
        "buy 1.500 ETH/USDT @ 90.00 (dce-1) on binance was open on the exchange but unknown to the database: cancelled."
    )
    assert JournalEntry.objects.get(pk=known.pk).summary == (
        "buy 1.500 ETH/USDT @ 90.00 (dce-1) on binance was open on the exchange but known to the database as "
        "cancelled: cancelled."
    )
    assert (known.group_id, known.quantity_closed, known.exit_price) == (group.pk, D("1.000"), D("90.00"))


def test_a_row_from_before_the_journal_keeps_its_text_and_a_waiting_offset_gets_its_outcome(trader):
    old = JournalEntry.objects.create(user=trader, kind="force_stop", details={"note": "Stopped long ago."})
    waiting = JournalEntry.objects.create(
        user=trader,
        kind="offset_loss",
        winners_state="waiting",
        winner_details=[{"group_id": "a"}, {"group_id": "b"}],
        details={"note": "Closing X.", "outcome_pending": True},
    )
    journal.offset_winners_dispatched(waiting)

    assert old.summary == "Stopped long ago."
    assert JournalEntry.objects.get(pk=waiting.pk).summary == "Closing X. The loser closed; 2 winner close(s) sent."
    assert JournalEntry.objects.create(user=trader, kind="manual_block").summary == ""  # no writer, no words


def test_only_the_journal_module_creates_entries():
    creators = []
    for path in ROOT.glob("*/**/*.py"):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in ("tests", ".venv") or "migrations" in relative.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("create", "bulk_create", "get_or_create")
                and isinstance(node.value, ast.Attribute)
                and node.value.attr == "objects"
                and isinstance(node.value.value, ast.Name)
                and node.value.value.id == "JournalEntry"
            ):
                creators.append(str(relative))
    assert set(creators) == {"trading/journal.py"}


@pytest.mark.parametrize("on", [True, False])
def test_a_fill_that_changed_positions_evaluates_the_trader_when_evaluate_on_fill_is_on(trader, monkeypatch, on):
    from risk import receivers
    from trading.tasks import _fills_synced

    asked = []
    monkeypatch.setattr(receivers.evaluate_risk_task, "delay", asked.append)
    RiskConfig.objects.filter(user=trader).update(evaluate_on_fill=on)

    _fills_synced(trader.exchange_accounts.get().pk)

    assert asked == ([str(trader.pk)] if on else [])
