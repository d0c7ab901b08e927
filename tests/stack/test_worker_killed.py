"""A worker SIGKILLed mid-work: the work is finished by a worker that comes after it, exactly once."""

import signal
from decimal import Decimal

import pytest

from exchanges.models import PaperOrder
from tests.stack.invariants import books_straight, database_state
from tests.stack.stack import wait
from trading.models import Order, PositionGroup

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
D = Decimal


def test_worker_killed_during_order_placement_leaves_no_duplicate_and_no_orphan(started):
    stack, trader = started
    trader.arm(kill_worker_after_accept=1)  # the first leg reaches the exchange, its worker dies unrecorded

    trader.send(entry_price="100")
    wait(
        lambda: Order.objects.filter(role="entry", status="open").count() == 5,
        timeout=120,
        what="the redelivered placement to finish the grid",
        logs=stack.logs,
    )

    log = stack.log_text("worker")
    assert "SIGKILL" in log or "WorkerLostError" in log
    assert trader.faults_left() == {"kill_worker_after_accept": 0}
    assert PaperOrder.objects.count() == 5
    assert PositionGroup.objects.get().status == "live"
    books_straight()


def test_worker_killed_while_applying_fills_is_finished_by_the_restarted_worker(started):
    stack, trader = started
    trader.send(entry_price="100")
    wait(lambda: PaperOrder.objects.filter(status="open").count() == 5, timeout=90, what="the grid", logs=stack.logs)

    # The fill sync applies the five fills and places take-profits as it goes. Its worker dies as it
    # sends the first take-profit (row committed, nothing on the exchange); the redelivered sync's
    # worker dies right after the exchange accepted the next one. Then the whole worker is killed
    # (main process and pool) and a fresh one started, as a supervisor would.
    trader.arm(kill_worker_before_accept=1, kill_worker_after_accept=1)
    stack.manage("paper", "price", "binance", "BTC/USDT", "97.9")
    wait(
        lambda: trader.faults_left() == {"kill_worker_before_accept": 0, "kill_worker_after_accept": 0},
        timeout=90,
        what="the fill sync to die twice placing take-profits",
        logs=stack.logs,
    )
    stack.processes["worker"].kill(signal.SIGKILL)
    stack.start("worker")

    # A take-profit the killed worker committed but never sent is re-sent by the stalled-work sweep
    # (every 30 s, for work older than 60 s), so allow three minutes.
    wait(
        lambda: Order.objects.filter(role="take_profit", status="open").count() == 5,
        timeout=180,
        what="the restarted worker to finish the take-profits",
        logs=stack.logs,
        detail=database_state,
    )
    assert Order.objects.filter(role="take_profit").count() == 5
    assert "stalled take-profit" in stack.log_text("worker")  # only the sweep sends a row its worker left pending
    assert PaperOrder.objects.filter(side="sell").count() == 5

    stack.manage("paper", "price", "binance", "BTC/USDT", "102.5")
    group = wait(
        lambda: PositionGroup.objects.filter(status="closed").first(),
        timeout=90,
        what="the position to close",
        logs=stack.logs,
        detail=database_state,
    )
    assert group.realized_pnl_usd.quantize(D("0.0001")) == D("19.9970")
    books_straight()
