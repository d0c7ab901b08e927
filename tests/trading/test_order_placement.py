"""Placement never loses or doubles an order: crashes, lost answers, retries, refusals."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from exchanges.connector import RetryableError
from exchanges.models import ExchangeAccount, PaperBalance, PaperOrder
from exchanges.paper.connector import PaperConnector
from exchanges.paper.services import paper_price_set
from tests.drills import placed_but_not_recorded
from tests.signals import stored_signal
from trading.models import Order, PositionGroup, Pyramid, Signal
from trading.services.positions import pyramid_submit
from trading.services.routing import signal_route

D = Decimal


class AnswerLost(PaperConnector):
    """The paper exchange accepts the order, then the answer times out (Binance -1007 style)."""

    def __init__(self, account, lose_for: set[int]):
        super().__init__(account)
        self.lose_for = lose_for
        self.created = 0

    def create_order(self, **kwargs):
        result = super().create_order(**kwargs)
        self.created += 1
        if self.created in self.lose_for:
            raise RetryableError("Timeout waiting for response from backend server. Send status unknown.")
        return result


def routed_pyramid(trader, django_capture_on_commit_callbacks) -> Pyramid:
    signal = stored_signal(trader)
    with django_capture_on_commit_callbacks(execute=False):
        signal_route(signal_id=signal.pk)
    return Pyramid.objects.get()


@pytest.mark.django_db
def test_crash_between_placement_and_recording_does_not_double_the_order(trader, django_capture_on_commit_callbacks):
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("101"))
    pyramid = routed_pyramid(trader, django_capture_on_commit_callbacks)
    account = ExchangeAccount.objects.get(user=trader)
    leg = pyramid.orders.get(leg_index=0)
    placed_but_not_recorded(account, leg)

    pyramid_submit(pyramid_id=pyramid.pk)  # the redelivered task

    assert PaperOrder.objects.filter(client_order_id=leg.client_order_id).count() == 1
    assert PaperOrder.objects.count() == 5
    leg.refresh_from_db()
    assert (leg.status, leg.exchange_order_id) == (
        "open",
        str(PaperOrder.objects.get(client_order_id=leg.client_order_id).pk),
    )


@pytest.mark.django_db
def test_lost_answer_is_looked_up_on_retry_not_sent_again(trader, django_capture_on_commit_callbacks):
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("101"))
    pyramid = routed_pyramid(trader, django_capture_on_commit_callbacks)
    account = ExchangeAccount.objects.get(user=trader)

    with pytest.raises(RetryableError):
        pyramid_submit(pyramid_id=pyramid.pk, connector=AnswerLost(account, lose_for={2}), final_attempt=False)
    assert pyramid.orders.get(leg_index=1).status == "unknown"

    pyramid_submit(pyramid_id=pyramid.pk, final_attempt=False)  # the retry 1 s later

    assert PaperOrder.objects.count() == 5
    assert sorted(pyramid.orders.values_list("status", flat=True)) == ["open"] * 5
    assert PositionGroup.objects.get().status == "live"


@pytest.mark.django_db
def test_refused_leg_cancels_what_was_placed_and_fails_the_new_group(trader, django_capture_on_commit_callbacks):
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("101"))
    account = ExchangeAccount.objects.get(user=trader)
    PaperBalance.objects.update_or_create(account=account, asset="USDT", defaults={"free": D("500")})
    pyramid = routed_pyramid(trader, django_capture_on_commit_callbacks)

    pyramid_submit(pyramid_id=pyramid.pk)

    group = PositionGroup.objects.get()
    assert group.status == "failed"
    assert "insufficient balance" in group.status_reason
    assert list(pyramid.orders.order_by("leg_index").values_list("status", flat=True)) == [
        "cancelled",
        "cancelled",
        "failed",
        "cancelled",
        "cancelled",
    ]
    assert not PaperOrder.objects.filter(status="open").exists()  # nothing left on the exchange
    assert PaperBalance.objects.get(account=account, asset="USDT").free == D("500")
    assert Order.objects.get(leg_index=2).error_message.startswith(
        "Account has insufficient balance for requested action."
    )


@pytest.mark.django_db(transaction=True)
def test_thirty_concurrent_signals_for_one_key_make_one_group_within_the_pyramid_limit(trader):
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("101"))
    signals = [stored_signal(trader, entry_price=str(100 - i * D("0.1"))) for i in range(30)]
    barrier = threading.Barrier(30)
    errors = []

    def route(signal_id):
        try:
            barrier.wait()
            signal_route(signal_id=signal_id)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=route, args=(s.pk,)) for s in signals]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    group = PositionGroup.objects.get()
    assert group.pyramid_count == group.pyramids.count() == 5
    assert group.orders.count() == 25
    statuses = sorted(Signal.objects.values_list("status", flat=True))
    assert statuses.count("opened") == 1 and statuses.count("pyramided") == 4 and statuses.count("ignored") == 25
