"""The paper exchange misbehaving under the whole stack: every order once, nothing lost.

Faults are armed with the operator's command (``manage.py paper fault``), counted per account and
consumed across processes, so each test also checks that the engine really met them.
"""

import time
from decimal import Decimal

import pytest

from exchanges.models import PaperOrder
from tests.stack.invariants import books_straight, database_state
from tests.stack.stack import Trader, wait
from trading.models import Order, PositionGroup

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
D = Decimal


def grid_on_the_exchange(stack) -> None:
    wait(
        lambda: Order.objects.filter(role="entry", status="open").count() == 5
        and PaperOrder.objects.filter(status="open").count() == 5,
        timeout=90,
        what="the five-leg grid, recorded and on the exchange",
        logs=stack.logs,
        detail=database_state,
    )


@pytest.mark.parametrize(
    "faults",
    [
        {"unavailable": 2},  # an HTTP 5xx before accepting, twice: retried after 1 s and 2 s
        {"rate_limited": 1},  # 429 with Retry-After: 10, and 429 again to anything sent sooner
        {"lose_answer_after_accept": 2},  # accepted, answer lost (timeout), twice: looked up, not resent
    ],
    ids=lambda faults: next(iter(faults)),
)
def test_placement_rides_out_an_exchange_fault_without_doubling_an_order(started, faults):
    stack, trader = started
    trader.arm(**faults)

    trader.send(entry_price="100")
    grid_on_the_exchange(stack)

    assert {name: trader.faults_left()[name] for name in faults} == {name: 0 for name in faults}
    assert PaperOrder.objects.count() == 5
    assert PositionGroup.objects.get().status == "live"
    assert not Order.objects.filter(status="failed").exists()
    books_straight()


def test_an_order_not_found_right_after_a_lost_answer_is_not_sent_twice(stack):
    """The exchange accepted the leg, the answer was lost, and the lookup that follows does not see it
    yet (eventual consistency). Resending with the same client id must end neither as a second order
    nor as a failed row whose order rests on the exchange. Beat starts afterwards, so that no fill sync
    finds the order first and the placement's own lookup meets the fault."""
    stack.start("web")
    trader = Trader.from_demo(stack)
    trader.arm(lose_answer_after_accept=1, order_not_found=1)
    stack.start("worker")

    trader.send(entry_price="100")
    wait(
        lambda: trader.faults_left() == {"lose_answer_after_accept": 0, "order_not_found": 0},
        timeout=60,
        what="both faults to be met",
        logs=stack.logs,
    )
    wait(
        lambda: not Order.objects.filter(status__in=["pending", "unknown"]).exists()
        and PositionGroup.objects.exclude(status="waiting").exists(),
        timeout=90,
        what="placement to settle",
        logs=stack.logs,
        detail=database_state,
    )
    stack.start("beat")
    time.sleep(5)  # a few fill syncs

    books_straight()
    assert PaperOrder.objects.count() == 5
    assert Order.objects.filter(role="entry", status="open").count() == 5, database_state()


def test_orders_missing_from_the_exchange_for_one_sync_stay_and_the_cycle_completes(started):
    """One fill-sync cycle sees none of the orders (open, closed and per-order lookups all empty): the
    orders go ``unknown`` for that poll only, are found again, and fill, take profit and close."""
    stack, trader = started
    trader.send(entry_price="100")
    grid_on_the_exchange(stack)

    trader.arm(order_not_found=7)  # one cycle: open orders, closed orders, then the five lookups
    wait(
        lambda: trader.faults_left() == {"order_not_found": 0},
        timeout=60,
        what="the sync to meet the fault",
        logs=stack.logs,
    )
    assert Order.objects.filter(unknown_polls__gte=1).exists()
    wait(
        lambda: Order.objects.filter(role="entry", status="open").count() == 5,
        timeout=60,
        what="the orders to be found again",
        logs=stack.logs,
    )

    stack.manage("paper", "price", "binance", "BTC/USDT", "97.9")
    wait(
        lambda: Order.objects.filter(role="take_profit", status="open").count() == 5,
        timeout=90,
        what="five take-profits",
        logs=stack.logs,
    )
    stack.manage("paper", "price", "binance", "BTC/USDT", "102.5")
    group = wait(
        lambda: PositionGroup.objects.filter(status="closed").first(),
        timeout=90,
        what="the position to close",
        logs=stack.logs,
    )

    assert group.realized_pnl_usd.quantize(D("0.0001")) == D("19.9970")
    assert not Order.objects.filter(status="failed").exists()
    books_straight()
