"""End to end with a real worker and beat: fills, take-profits, close; and a worker killed mid-placement."""

import json
from decimal import Decimal

import pytest
from django.core.management import call_command

from exchanges.models import ExchangeAccount, PaperOrder
from exchanges.paper.services import paper_price_set
from tests.alert_bodies import OMIT, Exactly, sent_alert
from tests.drills import arm_faults
from tests.factories import DCAConfigurationFactory, ExchangeAccountFactory, UserFactory
from tests.paper_markets import list_paper_market
from tests.processes import beat_command, process_env, running, wait_until, worker_command
from trading.models import Order, PositionGroup

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
D = Decimal
TWO_LEGS = [
    {"gap_percent": "0", "weight_percent": "50", "tp_percent": "2"},
    {"gap_percent": "-1", "weight_percent": "50", "tp_percent": "2"},
]


def setup_trader(**account):
    user = UserFactory(username="lifecycle")
    ExchangeAccountFactory(
        user=user,
        price_feed="manual",
        starting_balance=D("100000"),
        maker_fee_percent=0,
        taker_fee_percent=0,
        **account,
    )
    list_paper_market()
    DCAConfigurationFactory(user=user, levels=TWO_LEGS, capital_usd=D("200"))
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("101"))
    return user


def send_alert(client, user, entry_price="100"):
    body = sent_alert(
        user,
        source=OMIT,
        strategy_info=OMIT,
        risk=OMIT,
        tv=Exactly(exchange="binance", symbol="BTCUSDT", timeframe="15", action="buy", entry_price=entry_price),
        execution_intent=Exactly(type="signal", side="buy"),
    )
    response = client.post(f"/webhooks/{user.id}/tradingview", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 202, response.content
    return response.json()["signal_id"]


def test_webhook_fills_take_profits_and_close_with_the_right_pnl(client, tmp_path):
    user = setup_trader()
    env = process_env(FILL_SYNC_SECONDS="1")
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    with running(worker_command(concurrency=2), worker_log, env), running(beat_command(tmp_path), beat_log, env):
        send_alert(client, user)
        wait_until(
            lambda: PaperOrder.objects.filter(status="open").count() == 2,
            timeout=60,
            what="the grid on the paper exchange",
            log=worker_log,
        )

        call_command("paper", "price", "binance", "BTC/USDT", "98.9")  # both legs fill: 1.000 @ 100, 1.010 @ 99
        wait_until(
            lambda: Order.objects.filter(role="take_profit", status="open").count() == 2,
            timeout=60,
            what="beat's sync to place both take-profits",
            log=worker_log,
        )
        assert sorted(Order.objects.filter(role="take_profit").values_list("price", "quantity")) == [
            (D("100.98"), D("1.010")),
            (D("102.00"), D("1.000")),
        ]

        call_command("paper", "price", "binance", "BTC/USDT", "102.5")  # both take-profits fill
        group = wait_until(
            lambda: PositionGroup.objects.filter(status="closed").first(),
            timeout=60,
            what="the group to close on its take-profits",
            log=worker_log,
        )

    assert group.exit_reason == "take_profit"
    # 1.000 × (102.00 − avg) + 1.010 × (100.98 − avg), avg = (100 + 99.99) / 2.010
    average = (D("100") + D("1.010") * D("99")) / D("2.010")
    expected = D("1.000") * (D("102.00") - average) + D("1.010") * (D("100.98") - average)
    assert abs(group.realized_pnl_usd - expected) < D("0.000001")
    assert group.realized_pnl_usd.quantize(D("0.0001")) == D("3.9998")
    assert not PaperOrder.objects.filter(status="open").exists()


def test_worker_killed_between_the_exchange_call_and_its_record_leaves_no_duplicate_and_no_orphan(client, tmp_path):
    user = setup_trader()
    arm_faults(ExchangeAccount.objects.get(user=user), kill_worker_after_accept=1)
    log = tmp_path / "worker.log"
    with running(worker_command(concurrency=1), log, process_env()):
        send_alert(client, user)
        wait_until(
            lambda: Order.objects.filter(status="open").count() == 2,
            timeout=90,
            what="the redelivered placement to finish",
            log=log,
        )

    assert "SIGKILL" in log.read_text() or "WorkerLostError" in log.read_text()
    assert ExchangeAccount.objects.get().paper_faults == {"kill_worker_after_accept": 0}
    placed = list(PaperOrder.objects.values_list("client_order_id", flat=True))
    assert len(placed) == len(set(placed)) == 2  # nothing doubled
    assert set(placed) == set(Order.objects.values_list("client_order_id", flat=True))  # nothing orphaned
    assert PositionGroup.objects.get().status == "live"
