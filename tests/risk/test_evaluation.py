"""Risk evaluation on the paper exchange: timers, the offset, insufficient winners, controls."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from risk.evaluation import risk_evaluate
from trading.models import JournalEntry, Order, PositionGroup, RiskConfig

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def reference_book(holding):
    btc = holding("BTC/USDT", "1.0", "100", "95")  # −5.00 USD, −5 %
    eth = holding("ETH/USDT", "2.0", "2000", "2100")  # +200 USD
    sol = holding("SOL/USDT", "10", "50", "55")  # +50 USD
    return btc, eth, sol


def evaluate_at(user, minutes, **kwargs):
    return risk_evaluate(user=user, now=timezone.now() + timedelta(minutes=minutes), **kwargs)


def test_timer_starts_then_expires_and_the_reference_offset_closes_btc_and_0_05_eth(
    risk_trader, reference_book, eager_celery, django_capture_on_commit_callbacks
):
    btc, eth, sol = reference_book
    first = evaluate_at(risk_trader, 0)
    assert not first.executed and first.reason == "no eligible loser"
    btc.refresh_from_db()
    assert btc.risk_timer_start is not None and not btc.risk_eligible
    assert JournalEntry.objects.filter(kind="timer_started", group=btc).exists()

    with django_capture_on_commit_callbacks(execute=True):
        result = evaluate_at(risk_trader, 16)

    assert result.executed and result.loser_id == btc.pk and result.required_usd == D("5")
    btc.refresh_from_db()
    eth.refresh_from_db()
    sol.refresh_from_db()
    assert (btc.status, btc.exit_reason, btc.realized_pnl_usd) == ("closed", "risk_offset", D("-5.0"))
    assert (eth.status, eth.total_filled_quantity, eth.realized_pnl_usd) == ("active", D("1.950"), D("5.000"))
    assert sol.total_filled_quantity == D("10") and sol.realized_pnl_usd == 0
    assert Order.objects.get(group=eth, role="exit").quantity == D("0.050")
    action = JournalEntry.objects.get(kind="offset_loss")
    assert action.loser_group_id == btc.pk and action.required_usd == D("5")
    assert action.winner_details == [
        {"group_id": str(eth.pk), "symbol": "ETH/USDT", "quantity_closed": "0.05", "pnl_usd": "5", "price": "2100"}
    ]
    assert JournalEntry.objects.filter(kind="timer_expired", group=btc).exists()


def test_insufficient_winners_wait_unless_partial_offset_is_allowed(
    risk_trader, holding, django_capture_on_commit_callbacks
):
    holding("BTC/USDT", "10", "100", "90")  # −100 USD
    holding("SOL/USDT", "10", "50", "55")  # +50 USD
    evaluate_at(risk_trader, 0)

    waiting = evaluate_at(risk_trader, 16, dispatch=False)
    assert not waiting.executed and "cover 50.00 of the 100.00 USD loss" in waiting.reason
    assert not JournalEntry.objects.filter(kind="offset_loss").exists()

    RiskConfig.objects.filter(user=risk_trader).update(allow_partial_offset=True)
    partial = evaluate_at(risk_trader, 17, dispatch=False)
    assert partial.executed and partial.covered_usd == D("50")
    assert PositionGroup.objects.get(symbol="BTC/USDT").status == "closing"


def test_short_positions_lose_when_price_rises(risk_trader, holding):
    short = holding("BTC/USDT", "1.0", "100", "105", side="short")
    holding("ETH/USDT", "2.0", "2000", "2100")
    evaluate_at(risk_trader, 0)
    result = evaluate_at(risk_trader, 16, dispatch=False)
    assert result.loser_id == short.pk and result.required_usd == D("5")


def test_blocked_positions_are_never_the_loser(risk_trader, reference_book):
    btc, _, _ = reference_book
    PositionGroup.objects.filter(pk=btc.pk).update(risk_blocked=True)
    evaluate_at(risk_trader, 0)
    result = evaluate_at(risk_trader, 16, dispatch=False)
    assert not result.executed and result.ineligible[btc.pk] == "blocked by the trader"


def test_skip_once_skips_one_evaluation_and_is_consumed(risk_trader, reference_book):
    btc, _, _ = reference_book
    evaluate_at(risk_trader, 0)
    PositionGroup.objects.filter(pk=btc.pk).update(risk_skip_once=True)

    skipped = evaluate_at(risk_trader, 16, dispatch=False)
    assert not skipped.executed and skipped.ineligible[btc.pk] == "skipped once by the trader"
    assert not PositionGroup.objects.get(pk=btc.pk).risk_skip_once

    assert evaluate_at(risk_trader, 17, dispatch=False).executed


def test_recovery_resets_the_timer(risk_trader, reference_book):
    btc, _, _ = reference_book
    evaluate_at(risk_trader, 0)
    PositionGroup.objects.filter(pk=btc.pk).update(unrealized_pnl_percent=D("-1"))

    evaluate_at(risk_trader, 5, dispatch=False)

    btc.refresh_from_db()
    assert btc.risk_timer_start is None
    assert JournalEntry.objects.filter(kind="timer_reset", group=btc).exists()


def test_daily_realised_loss_pauses_entries_and_is_recorded(risk_trader, holding):
    from tests.factories import PositionGroupFactory

    PositionGroupFactory(
        user=risk_trader,
        exchange_account=risk_trader.account,
        symbol="XRP/USDT",
        status="closed",
        realized_pnl_usd=D("-600"),
        closed_at=timezone.now(),
    )
    holding("BTC/USDT", "1.0", "100", "99")

    risk_evaluate(user=risk_trader, dispatch=False)

    assert RiskConfig.objects.get(user=risk_trader).engine_paused_by_loss_limit
    assert JournalEntry.objects.filter(kind="engine_paused").count() == 1
    risk_evaluate(user=risk_trader, dispatch=False)
    assert JournalEntry.objects.filter(kind="engine_paused").count() == 1


def test_beat_dispatch_evaluates_only_users_whose_interval_has_passed(risk_trader, holding, settings):
    import redis

    from risk.tasks import dispatch_risk_evaluations_task

    queue = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    holding("BTC/USDT", "1.0", "100", "99")
    RiskConfig.objects.filter(user=risk_trader).update(last_evaluated_at=timezone.now(), evaluate_interval_seconds=60)
    queue.delete("celery")

    dispatch_risk_evaluations_task()
    assert queue.llen("celery") == 0

    RiskConfig.objects.filter(user=risk_trader).update(last_evaluated_at=timezone.now() - timedelta(seconds=61))
    dispatch_risk_evaluations_task()
    assert queue.llen("celery") == 1
    queue.delete("celery")


def test_winners_are_reduced_only_once_the_losers_close_filled(
    risk_trader, reference_book, eager_celery, django_capture_on_commit_callbacks
):
    # Row 12: the winners were reduced in the same breath as the loser's close, even when that close failed.
    from exchanges.models import PaperBalance

    btc, eth, sol = reference_book
    evaluate_at(risk_trader, 0)
    PaperBalance.objects.filter(account=risk_trader.account, asset="BTC").update(free=0)  # the loser cannot be sold

    with django_capture_on_commit_callbacks(execute=True):
        result = evaluate_at(risk_trader, 16)

    assert result.executed
    btc.refresh_from_db()
    eth.refresh_from_db()
    assert btc.status != "closed" and "Close failed" in btc.status_reason
    assert eth.total_filled_quantity == D("2.0") and not Order.objects.filter(group=eth, role="exit").exists()
    action = JournalEntry.objects.get(kind="offset_loss")
    assert action.winners_state == "cancelled" and "winners were left untouched" in action.summary
