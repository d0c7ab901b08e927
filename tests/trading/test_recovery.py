"""Decided exchange work whose task was lost (broker down, worker gone) is re-sent and completed once."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from exchanges.models import PaperOrder
from exchanges.paper.services import paper_price_set
from tests.signals import stored_signal
from trading.models import PositionGroup, Pyramid
from trading.services.closing import position_close_request
from trading.services.recovery import stalled_work_resend
from trading.services.routing import signal_route

pytestmark = pytest.mark.django_db


def test_a_grid_whose_placement_task_was_lost_is_placed_by_the_sweep(
    trader, eager_celery, django_capture_on_commit_callbacks
):
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=Decimal("101"))
    signal = stored_signal(trader)
    with django_capture_on_commit_callbacks(execute=False):  # the enqueue never reached a worker
        signal_route(signal_id=signal.pk)
    assert not PaperOrder.objects.exists()

    assert stalled_work_resend() == (0, 0)  # too recent: it may still be on its way
    Pyramid.objects.update(created_at=timezone.now() - timedelta(minutes=2))
    assert stalled_work_resend() == (1, 0)

    assert PaperOrder.objects.count() == 5
    assert PositionGroup.objects.get().status == "live"
    stalled_work_resend()
    assert PaperOrder.objects.count() == 5  # nothing placed twice


def test_a_close_whose_task_was_lost_is_finished_by_the_sweep(route):
    route(entry_price="100")
    group = PositionGroup.objects.get()
    position_close_request(group=group, reason="manual")
    PositionGroup.objects.update(updated_at=timezone.now() - timedelta(minutes=2))

    assert stalled_work_resend() == (0, 1)

    group.refresh_from_db()
    assert (group.status, group.exit_reason) == ("closed", "manual")
    assert not PaperOrder.objects.filter(status="open").exists()


def test_a_take_profit_left_pending_by_a_dead_worker_is_sent_once(route, trader, eager_celery):
    from trading.models import Order
    from trading.services.recovery import stalled_take_profits_resend
    from trading.services.sync import prices_sync

    route(entry_price="100")  # leg 1 fills on arrival
    prices_sync(account_id=PositionGroup.objects.get().exchange_account_id)  # its take-profit goes out
    tp = Order.objects.get(role="take_profit")
    # As if the worker died after committing the row, before the exchange heard of it.
    from exchanges.paper.connector import PaperConnector

    PaperConnector(tp.group.exchange_account).cancel_order(symbol="BTC/USDT", client_order_id=tp.client_order_id)
    PaperOrder.objects.filter(client_order_id=tp.client_order_id).delete()
    Order.objects.filter(pk=tp.pk).update(status="pending", exchange_order_id="", submitted_at=None)

    assert stalled_take_profits_resend() == 0  # too recent: its task may still be on its way
    Order.objects.filter(pk=tp.pk).update(created_at=timezone.now() - timedelta(minutes=2))
    assert stalled_take_profits_resend() == 1

    tp.refresh_from_db()
    assert tp.status == "open"
    assert PaperOrder.objects.filter(client_order_id=tp.client_order_id, side="sell").count() == 1
    assert stalled_take_profits_resend() == 0


def test_retries_wait_for_the_exchanges_retry_after_capped_at_five_minutes():
    from exchanges.connector import RateLimited, RetryableError
    from trading.tasks import exchange_backoff

    assert [exchange_backoff(RetryableError("5xx"), n) for n in range(3)] == [1, 2, 4]
    assert exchange_backoff(RateLimited("429", retry_after=10.2), 0) == 11
    assert exchange_backoff(RateLimited("429", retry_after=1), 2) == 4
    assert exchange_backoff(RateLimited("418 banned", retry_after=7200), 0) == 300
