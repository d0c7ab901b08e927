"""A position through each paper answer dialect with faults on, on the Procfile's processes.

Each dialect (plain; binance: order queries without fees; bybit: ids-only placements and cancels)
with 5 % of accepted orders' answers lost, crossed orders filling half per matching pass and
0.1 % fees: the grid fills in parts, the take-profits fill in parts, the position closes; then the
books are audited on the exchange's own records — nothing lost or doubled, balances equal to the
recorded fills (fees included), nothing sold beyond what was bought.
"""

import time
from decimal import Decimal

import pytest

from exchanges.models import ExchangeAccount, PaperOrder
from tests.stack import audits
from tests.stack.invariants import books_straight
from tests.stack.stack import wait
from trading.models import Order, PositionGroup, Signal

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
D = Decimal


def move_until(stack, prices: tuple[str, str], done, *, timeout: float, what: str):
    """Move the price back and forth between ``prices`` (each move is a matching pass: half fills)
    until ``done()``."""
    deadline = time.monotonic() + timeout
    turn = 0
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        stack.manage("paper", "price", "binance", "BTC/USDT", prices[turn % 2])
        turn += 1
        time.sleep(1)


@pytest.mark.parametrize("dialect", ["plain", "binance", "bybit"])
def test_a_position_closes_with_straight_books_in_every_dialect_with_lost_answers_and_half_fills(started, dialect):
    stack, trader = started
    ExchangeAccount.objects.filter(pk=trader.account_id).update(
        paper_dialect=dialect,
        paper_faults={"lose_answer_rate": 0.05},
        partial_fill_ratio=D("0.5"),
        maker_fee_percent=D("0.1"),
        taker_fee_percent=D("0.1"),
    )

    signal_id = trader.send(entry_price="100")
    wait(
        lambda: PaperOrder.objects.filter(side="buy").count() == 5,
        timeout=90,
        what="the five-leg grid on the paper exchange",
        logs=stack.logs,
    )
    move_until(
        stack,
        ("97.9", "97.8"),
        lambda: PaperOrder.objects.filter(side="buy", status="closed").count() == 5,
        timeout=120,
        what="every leg to fill, half a pass at a time",
    )
    move_until(
        stack,
        ("102.5", "102.6"),
        lambda: PositionGroup.objects.get().status == "closed",
        timeout=180,
        what="the take-profits to fill and the position to close",
    )
    wait(
        lambda: not Order.objects.filter(status__in=("pending", "unknown", "open", "partially_filled")).exists(),
        timeout=60,
        what="nothing open or in flight",
        logs=stack.logs,
    )

    group = PositionGroup.objects.get()
    assert group.exit_reason == "take_profit" and group.realized_pnl_usd > 0
    assert Signal.objects.get(pk=signal_id).status == "opened"
    books_straight()
    account = ExchangeAccount.objects.select_related("user").get(pk=trader.account_id)
    problems = audits.balance_problems([account], step=D("0.001")) + audits.sell_budget_problems()
    assert not problems, f"{dialect}: " + "\n  ".join(problems)
