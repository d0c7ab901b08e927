"""Reconciliation and the unknown-order grace period: nothing orphaned, nothing doubled, nothing stuck."""

from decimal import Decimal

import pytest
from django.utils import timezone

from exchanges.models import ExchangeAccount, PaperOrder
from exchanges.paper.connector import PaperConnector
from exchanges.paper.services import paper_price_set
from tests.drills import placed_but_not_recorded
from tests.signals import stored_signal
from trading.models import JournalEntry, Order, PositionGroup
from trading.services.reconcile import account_reconcile
from trading.services.routing import signal_route
from trading.services.sync import UNKNOWN_GRACE_POLLS, symbol_sync

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def account(trader):
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("101"))
    return ExchangeAccount.objects.get(user=trader)


def test_an_exchange_order_the_database_does_not_know_is_cancelled_and_recorded(route, account):
    route(entry_price="100")
    for client_order_id in ("dcefeedfacefeedfacefeedfacefeedface0", "manual-by-the-trader"):
        PaperConnector(account).create_order(
            symbol="BTC/USDT",
            side="buy",
            type="limit",
            amount=D("1.000"),
            price=D("90.00"),
            client_order_id=client_order_id,
        )

    result = account_reconcile(account_id=account.pk)

    assert result.orphans_cancelled == 1
    assert PaperOrder.objects.get(client_order_id="dcefeedfacefeedfacefeedfacefeedface0").status == "canceled"
    assert PaperOrder.objects.get(client_order_id="manual-by-the-trader").status == "open"  # not ours: untouched
    assert PaperOrder.objects.filter(status="open").count() == 5 + 1
    record = JournalEntry.objects.get(kind="orphan_cancelled")
    assert "unknown to the database: cancelled" in record.summary


def test_an_order_the_exchange_closed_meanwhile_is_brought_up_to_date(route, account):
    route(entry_price="100")
    leg = Order.objects.get(leg_index=1)
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("99.4"))  # legs 0 and 1 fill on the exchange

    account_reconcile(account_id=account.pk)

    leg.refresh_from_db()
    assert (leg.status, leg.filled_quantity) == ("filled", D("2.010"))
    assert PositionGroup.objects.get().filled_dca_legs == 2


def test_an_order_sent_but_never_recorded_is_adopted_not_sent_again(
    trader, account, django_capture_on_commit_callbacks
):
    signal = stored_signal(trader)
    with django_capture_on_commit_callbacks(execute=False):
        signal_route(signal_id=signal.pk)
    leg = Order.objects.get(leg_index=0)
    placed_but_not_recorded(account, leg)

    result = account_reconcile(account_id=account.pk)

    leg.refresh_from_db()
    assert (result.adopted, leg.status, result.orphans_cancelled) == (1, "open", 0)
    assert PaperOrder.objects.filter(client_order_id=leg.client_order_id).count() == 1


def test_an_order_the_exchange_cannot_find_stays_unknown_for_the_grace_period_then_fails(route, account):
    route(entry_price="100")
    leg = Order.objects.get(leg_index=4)
    PaperOrder.objects.filter(client_order_id=leg.client_order_id).delete()  # the exchange lost it

    for poll in range(1, UNKNOWN_GRACE_POLLS):
        symbol_sync(account_id=account.pk, symbol="BTC/USDT")
        leg.refresh_from_db()
        assert (leg.status, leg.unknown_polls) == ("unknown", poll)

    symbol_sync(account_id=account.pk, symbol="BTC/USDT")

    leg.refresh_from_db()
    assert leg.status == "failed"
    assert "did not know this order in 3 consecutive syncs" in leg.error_message
    assert PositionGroup.objects.get().total_dca_legs == 4


def test_misses_only_count_while_consecutive(route, account):
    route(entry_price="100")
    leg = Order.objects.get(leg_index=4)
    # Missed in two syncs (an exchange slow to show a new order), then seen again.
    Order.objects.filter(pk=leg.pk).update(status="unknown", unknown_polls=UNKNOWN_GRACE_POLLS - 1)

    symbol_sync(account_id=account.pk, symbol="BTC/USDT")

    leg.refresh_from_db()
    assert (leg.status, leg.unknown_polls) == ("open", 0)
    PaperOrder.objects.filter(client_order_id=leg.client_order_id).delete()  # later the exchange loses it
    for poll in range(1, UNKNOWN_GRACE_POLLS):
        symbol_sync(account_id=account.pk, symbol="BTC/USDT")
        leg.refresh_from_db()
        assert (leg.status, leg.unknown_polls) == ("unknown", poll)  # a fresh count, not failed at once


def test_a_group_whose_orders_all_vanished_does_not_stay_live(route, account):
    route(entry_price="100")
    PaperOrder.objects.all().delete()

    for _ in range(UNKNOWN_GRACE_POLLS):
        symbol_sync(account_id=account.pk, symbol="BTC/USDT")

    group = PositionGroup.objects.get()
    assert group.status == "failed"
    assert "none of its orders is on the exchange" in group.status_reason


def test_misses_do_not_count_while_the_placement_task_may_still_retry(route, account):
    from datetime import timedelta

    from trading.services.sync import PLACEMENT_RETRY_WINDOW

    route(entry_price="100")
    leg = Order.objects.get(leg_index=4)
    PaperOrder.objects.filter(client_order_id=leg.client_order_id).delete()
    # Its placement met a 429 asking to wait 5 minutes; the last attempt was 4 minutes ago.
    attempt = timezone.now() - timedelta(minutes=4)
    Order.objects.filter(pk=leg.pk).update(status="unknown", exchange_order_id="", submitted_at=attempt)

    for _ in range(UNKNOWN_GRACE_POLLS + 1):
        symbol_sync(account_id=account.pk, symbol="BTC/USDT")
    leg.refresh_from_db()
    assert (leg.status, leg.unknown_polls) == ("unknown", 0)

    Order.objects.filter(pk=leg.pk).update(submitted_at=timezone.now() - PLACEMENT_RETRY_WINDOW)
    symbol_sync(account_id=account.pk, symbol="BTC/USDT")  # no attempt due any more: misses count
    leg.refresh_from_db()
    assert (leg.status, leg.unknown_polls) == ("unknown", 1)


def test_each_placement_attempt_restarts_the_window(account, route):
    from datetime import timedelta

    from exchanges.paper.connector import PaperConnector
    from trading.services.orders import order_place

    route(entry_price="100")
    leg = Order.objects.get(leg_index=4)
    PaperConnector(account).cancel_order(symbol="BTC/USDT", client_order_id=leg.client_order_id)
    PaperOrder.objects.filter(client_order_id=leg.client_order_id).delete()
    long_ago = timezone.now() - timedelta(minutes=30)
    Order.objects.filter(pk=leg.pk).update(status="unknown", exchange_order_id="", submitted_at=long_ago)

    order_place(leg, PaperConnector(account))  # the retry: looks it up, finds nothing, sends it

    leg.refresh_from_db()
    assert leg.status == "open" and leg.submitted_at > timezone.now() - timedelta(minutes=1)
    assert PaperOrder.objects.filter(client_order_id=leg.client_order_id).count() == 1
