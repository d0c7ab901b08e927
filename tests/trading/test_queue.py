"""Execution pool and queue through routing: queueing, replacement, promotion, expiry, exit, force-stop."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from trading.models import JournalEntry, PositionGroup, QueuedSignal, RiskConfig, Signal
from trading.services.promotion import queue_promote, queue_promote_ready
from trading.services.queue import queue_expire

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def one_slot(trader):
    RiskConfig.objects.filter(user=trader).update(max_open_positions_global=1)
    return trader


def test_full_pool_queues_the_signal_and_creates_no_group(route, one_slot):
    route(symbol="BTCUSDT")
    signal = route(symbol="ETHUSDT")

    assert signal.status == "queued"
    assert "all 1 position slots are in use" in signal.reason
    entry = QueuedSignal.objects.get()
    assert (entry.symbol, entry.side, entry.status, entry.entry_price) == ("ETH/USDT", "long", "queued", D("100"))
    assert PositionGroup.objects.count() == 1


def test_a_newer_signal_replaces_the_queued_one(route, one_slot):
    route(symbol="BTCUSDT")
    first = route(symbol="ETHUSDT", entry_price="100")
    second = route(symbol="ETHUSDT", entry_price="97")

    entry = QueuedSignal.objects.get()
    assert (entry.signal_id, entry.replacement_count, entry.entry_price) == (second.pk, 1, D("97"))
    first.refresh_from_db()
    assert first.status == "ignored" and "Replaced in the queue" in first.reason


def test_closing_a_position_promotes_the_queue(route, one_slot):
    route(symbol="BTCUSDT")
    queued = route(symbol="ETHUSDT")

    route(intent="exit", side="sell", prev_market_position="long", market_position="flat", symbol="BTCUSDT")

    queued.refresh_from_db()
    assert queued.status == "opened", queued.reason
    assert QueuedSignal.objects.get().status == "promoted"
    assert PositionGroup.objects.get(symbol="ETH/USDT").status in ("live", "partially_filled")


def test_promotion_follows_the_priority_rules(
    route, one_slot, trader, eager_celery, django_capture_on_commit_callbacks
):
    from exchanges.paper.services import paper_price_set

    route(symbol="BTCUSDT")
    route(symbol="ETHUSDT", entry_price="100")
    from django.core.management import call_command

    call_command("paper", "market", "binance", "SOL/USDT", "--tick", "0.01", "--step", "0.001", "--min-notional", "10")
    from tests.factories import DCAConfigurationFactory

    DCAConfigurationFactory(user=trader, pair="SOL/USDT")
    paper_price_set(exchange_id="binance", symbol="SOL/USDT", price=D("100"))
    route(symbol="SOLUSDT", entry_price="100")
    paper_price_set(exchange_id="binance", symbol="SOL/USDT", price=D("95"))  # SOL is now 5 % below its entry
    RiskConfig.objects.filter(user=trader).update(max_open_positions_global=2)

    with django_capture_on_commit_callbacks(execute=True):
        queue_promote_ready(user=trader)

    assert set(PositionGroup.objects.values_list("symbol", flat=True)) == {"BTC/USDT", "SOL/USDT"}
    assert QueuedSignal.objects.get(symbol="ETH/USDT").status == "queued"


def test_queued_signals_expire_after_the_ttl(route, one_slot):
    route(symbol="BTCUSDT")
    signal = route(symbol="ETHUSDT")

    assert queue_expire(now=timezone.now() + timedelta(minutes=61)) == 1

    signal.refresh_from_db()
    assert QueuedSignal.objects.get().status == "expired"
    assert signal.status == "ignored" and "Expired in the queue" in signal.reason


def test_exit_drops_the_queued_entry_for_its_key(route, one_slot):
    route(symbol="BTCUSDT")
    queued = route(symbol="ETHUSDT")

    exit_signal = route(
        intent="exit", side="sell", prev_market_position="long", market_position="flat", symbol="ETHUSDT"
    )

    assert exit_signal.status == "exited"
    assert QueuedSignal.objects.get().status == "cancelled"
    queued.refresh_from_db()
    assert queued.status == "ignored"


def test_force_stop_queues_new_entries_and_manual_promote_respects_it(
    route, trader, django_capture_on_commit_callbacks
):
    RiskConfig.objects.filter(user=trader).update(engine_force_stopped=True)
    signal = route()
    assert signal.status == "queued" and "force-stopped" in signal.reason

    with django_capture_on_commit_callbacks(execute=True):
        still = queue_promote(entry=QueuedSignal.objects.get())
    assert still.status == "queued"

    RiskConfig.objects.filter(user=trader).update(engine_force_stopped=False)
    with django_capture_on_commit_callbacks(execute=True):
        opened = queue_promote(entry=QueuedSignal.objects.get())
    assert opened.status == "opened"


def test_manual_promote_opens_past_the_pool_limits(route, one_slot, django_capture_on_commit_callbacks):
    route(symbol="BTCUSDT")
    route(symbol="ETHUSDT")

    with django_capture_on_commit_callbacks(execute=True):
        signal = queue_promote(entry=QueuedSignal.objects.get())

    assert signal.status == "opened"
    assert PositionGroup.objects.count() == 2


def test_pyramid_bypasses_a_full_pool_with_the_same_pair_timeframe_rule(route, one_slot, trader):
    route(entry_price="100")
    assert route(entry_price="99").status == "pyramided"

    rules = {
        "same_pair_timeframe": False,
        "deepest_loss_percent": True,
        "highest_replacement": True,
        "fifo_fallback": True,
    }
    RiskConfig.objects.filter(user=trader).update(priority_rules=rules, max_total_exposure_usd=D("2500"))
    signal = route(entry_price="98")
    assert signal.status == "queued" and "exposure would reach" in signal.reason
    assert QueuedSignal.objects.get().is_pyramid_continuation


def test_daily_loss_limit_pauses_new_entries(route, trader):
    from tests.factories import PositionGroupFactory

    PositionGroupFactory(
        user=trader,
        exchange_account=trader.exchange_accounts.get(),
        symbol="XRP/USDT",
        status="closed",
        realized_pnl_usd=D("-600"),
        closed_at=timezone.now(),
    )

    signal = route()

    assert signal.status == "queued" and "max_realized_loss_usd" in signal.reason
    assert RiskConfig.objects.get(user=trader).engine_paused_by_loss_limit
    # One breaker (trading.services.breaker): routing's trip leaves the same record the evaluation's does, once.
    assert JournalEntry.objects.filter(user=trader, kind="engine_paused").count() == 1
    route(entry_price="99")
    assert JournalEntry.objects.filter(user=trader, kind="engine_paused").count() == 1
    assert Signal.objects.filter(status="opened").count() == 0


def test_a_new_day_lifts_the_daily_loss_pause_without_a_record(trader):
    from trading.locks import lock_user_routing
    from trading.services.breaker import daily_loss_breaker

    with transaction.atomic():
        risk = lock_user_routing(trader)
        assert daily_loss_breaker(risk, user=trader, loss_usd=D("600")) is True
        assert daily_loss_breaker(risk, user=trader, loss_usd=D("0")) is False

    risk = RiskConfig.objects.get(user=trader)
    assert (risk.engine_paused_by_loss_limit, risk.paused_at) == (False, None)
    assert JournalEntry.objects.filter(user=trader, kind="engine_paused").count() == 1
