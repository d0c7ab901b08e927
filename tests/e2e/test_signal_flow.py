"""End to end with a real Celery worker and beat on PostgreSQL and Redis: webhook → grid on the paper exchange."""

import json
from decimal import Decimal

import pytest
from django.core.management import call_command

from exchanges.models import PaperOrder
from exchanges.paper.services import paper_price_set
from tests.alert_bodies import sent_alert
from tests.factories import DCAConfigurationFactory, ExchangeAccountFactory, UserFactory
from tests.paper_markets import list_paper_market
from tests.processes import beat_command, process_env, running, wait_until, worker_command
from trading.models import Order, PositionGroup, Signal

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_webhook_to_open_orders_then_fills_through_beat(client, tmp_path):
    user = UserFactory(username="e2e")
    ExchangeAccountFactory(user=user, price_feed="manual", starting_balance=Decimal("100000"))
    list_paper_market()
    DCAConfigurationFactory(user=user)
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=Decimal("101"))
    body = sent_alert(
        user,
        tv={"symbol": "BINANCE:BTCUSDT", "entry_price": "100", "close_price": "100"},
        strategy_info={"trade_id": "1", "alert_name": "e2e", "alert_message": ""},
    )
    env = process_env(FILL_SYNC_SECONDS="1")
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    with running(worker_command(concurrency=2), worker_log, env), running(beat_command(tmp_path), beat_log, env):
        response = client.post(f"/webhooks/{user.id}/tradingview", data=json.dumps(body), content_type="text/plain")
        assert response.status_code == 202, response.content
        signal_id = response.json()["signal_id"]

        wait_until(
            lambda: PaperOrder.objects.filter(status="open").count() == 5,
            timeout=60,
            what="five limit orders on the paper exchange",
            log=worker_log,
        )
        assert sorted(PaperOrder.objects.values_list("price", "amount")) == [
            (Decimal("98.00"), Decimal("2.040")),
            (Decimal("98.50"), Decimal("2.030")),
            (Decimal("99.00"), Decimal("2.020")),
            (Decimal("99.50"), Decimal("2.010")),
            (Decimal("100.00"), Decimal("2.000")),
        ]
        signal = Signal.objects.get(pk=signal_id)
        assert signal.status == "opened"
        group = wait_until(lambda: PositionGroup.objects.filter(status="live").first(), timeout=30, what="group live")
        assert set(Order.objects.values_list("client_order_id", flat=True)) == set(
            PaperOrder.objects.values_list("client_order_id", flat=True)
        )

        call_command("paper", "price", "binance", "BTC/USDT", "99.2")  # legs 0 and 1 fill on the exchange

        wait_until(
            lambda: PositionGroup.objects.get(pk=group.pk).filled_dca_legs == 2,
            timeout=60,
            what="beat's fill sync to record two filled legs",
            log=worker_log,
        )
    group.refresh_from_db()
    assert group.status == "partially_filled"
    assert group.total_filled_quantity == Decimal("4.010") - Decimal("0.00401")  # 0.1 % maker fee paid in BTC
    # (100 × 1.998 + 99.50 × 2.00799) / 4.00599, weighted by the quantity held after fees
    assert group.weighted_avg_entry.quantize(Decimal("0.0001")) == Decimal("99.7494")
