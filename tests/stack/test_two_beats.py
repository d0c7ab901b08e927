"""A second beat started by mistake: every periodic task is sent twice, and no action happens twice."""

from decimal import Decimal

import pytest

from exchanges.models import PaperFill, PaperOrder
from tests.stack.invariants import books_straight, database_state
from tests.stack.stack import wait
from trading.models import Order, PositionGroup

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
D = Decimal


def test_two_beats_do_not_double_take_profits_closes_or_pnl(started):
    stack, trader = started
    stack.start("beat2")  # the mistake: only one beat may run (README "Production")
    wait(
        lambda: stack.log_text("beat2").count("Sending due task sync-fills") >= 3,
        timeout=90,
        what="the second beat to send fill syncs too",
        logs=stack.logs,
    )

    trader.send(entry_price="100")
    wait(
        lambda: PaperOrder.objects.filter(status="open").count() == 5,
        timeout=90,
        what="the grid",
        logs=stack.logs,
        detail=database_state,
    )
    stack.manage("paper", "price", "binance", "BTC/USDT", "97.9")
    wait(
        lambda: Order.objects.filter(role="take_profit", status="open").count() == 5,
        timeout=90,
        what="five take-profits",
        logs=stack.logs,
        detail=database_state,
    )
    stack.manage("paper", "price", "binance", "BTC/USDT", "102.5")
    group = wait(
        lambda: PositionGroup.objects.filter(status="closed").first(),
        timeout=90,
        what="the position to close",
        logs=stack.logs,
        detail=database_state,
    )
    # Both beats keep sending syncs for a while after the close: nothing more may happen.
    sent = stack.log_text("beat2").count("Sending due task sync-fills")
    wait(
        lambda: stack.log_text("beat2").count("Sending due task sync-fills") >= sent + 5,
        timeout=60,
        what="more syncs from the second beat",
        logs=stack.logs,
    )

    assert stack.log_text("beat").count("Sending due task sync-fills") >= 5
    assert Order.objects.filter(role="entry").count() == 5
    assert Order.objects.filter(role="take_profit").count() == 5
    assert not Order.objects.filter(role="exit").exists()  # per-leg take-profits closed it, no extra market close
    assert PaperOrder.objects.count() == 10 and PaperFill.objects.count() == 10
    group.refresh_from_db()
    assert group.status == "closed" and group.exit_reason == "take_profit"
    assert group.realized_pnl_usd.quantize(D("0.0001")) == D("19.9970")
    assert group.total_filled_quantity == 0
    books_straight()
