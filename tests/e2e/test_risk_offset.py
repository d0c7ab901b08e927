"""End to end with a real Celery worker (and beat) on PostgreSQL and Redis: the reference loss offset.

The book is the reference scenario on the paper exchange: BTC long 1.0 @ 100 now 95 (−5.00 USD),
ETH long 2.0 @ 2,000 now 2,100 (+200 USD), SOL long 10 @ 50 now 55 (+50 USD). With no wait after
the timer starts (post_pyramids_wait_minutes 0) one evaluation starts and expires BTC's timer, then
dispatches the loser's close and the winner's partial close together; the worker sends both market
sells to the paper exchange: all of BTC, 0.05 ETH. SOL is not needed and stays untouched.
"""

from decimal import Decimal

import pytest

from exchanges.models import PaperBalance, PaperOrder
from exchanges.paper.services import paper_balances
from tests.processes import beat_command, process_env, running, wait_until, worker_command
from tests.risk.conftest import holding, risk_trader  # noqa: F401  (fixtures)
from trading.models import JournalEntry, Order, PositionGroup, RiskConfig

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
D = Decimal


@pytest.fixture
def reference_book(risk_trader, holding):
    btc = holding("BTC/USDT", "1.0", "100", "95")
    eth = holding("ETH/USDT", "2.0", "2000", "2100")
    sol = holding("SOL/USDT", "10", "50", "55")
    # The account's USDT row, seeded with its starting balance as any account that has traded has it
    # (holding() credits the base assets directly, so no trade has created it yet).
    paper_balances(risk_trader.account)
    RiskConfig.objects.filter(user=risk_trader).update(post_pyramids_wait_minutes=0, evaluate_interval_seconds=5)
    return btc, eth, sol


def offset_done(btc, eth):
    btc = PositionGroup.objects.get(pk=btc.pk)
    eth = PositionGroup.objects.get(pk=eth.pk)
    return btc.status == "closed" and eth.total_filled_quantity == D("1.95")


def assert_reference_offset_reached_the_exchange(risk_trader, btc, eth, sol):
    btc.refresh_from_db()
    eth.refresh_from_db()
    sol.refresh_from_db()
    assert (btc.status, btc.exit_reason, btc.realized_pnl_usd, btc.total_filled_quantity) == (
        "closed",
        "risk_offset",
        D("-5"),
        0,
    )
    assert (eth.status, eth.total_filled_quantity, eth.realized_pnl_usd) == ("active", D("1.95"), D("5"))
    assert (sol.status, sol.total_filled_quantity, sol.realized_pnl_usd) == ("active", D("10"), 0)

    # Our exit orders and the paper exchange's market sells: one each for BTC and ETH, none for SOL.
    exits = Order.objects.filter(role="exit").order_by("symbol")
    assert [(o.symbol, o.side, o.order_type, o.quantity, o.status, o.exit_reason) for o in exits] == [
        ("BTC/USDT", "sell", "market", D("1"), "filled", "risk_offset"),
        ("ETH/USDT", "sell", "market", D("0.05"), "filled", "risk_offset"),
    ]
    sells = PaperOrder.objects.filter(account=risk_trader.account).order_by("symbol")
    assert [(p.symbol, p.side, p.order_type, p.amount, p.filled, p.average, p.status) for p in sells] == [
        ("BTC/USDT", "sell", "market", D("1"), D("1"), D("95"), "closed"),
        ("ETH/USDT", "sell", "market", D("0.05"), D("0.05"), D("2100"), "closed"),
    ]
    assert set(sells.values_list("client_order_id", flat=True)) == set(exits.values_list("client_order_id", flat=True))
    balances = dict(PaperBalance.objects.filter(account=risk_trader.account).values_list("asset", "free"))
    assert (balances["BTC"], balances["ETH"], balances["SOL"]) == (0, D("1.95"), D("10"))
    assert balances["USDT"] == D("100000") + D("95") + D("105")  # 1 × 95 + 0.05 × 2,100, no fees

    offset = JournalEntry.objects.get(user=risk_trader, kind="offset_loss")
    assert (offset.loser_group_id, offset.loser_pnl_usd, offset.required_usd) == (btc.pk, D("-5"), D("5"))
    assert offset.winner_details == [
        {"group_id": str(eth.pk), "symbol": "ETH/USDT", "quantity_closed": "0.05", "pnl_usd": "5", "price": "2100"}
    ]
    assert not JournalEntry.objects.filter(kind="offset_loss").exclude(pk=offset.pk).exists()  # once only


def test_run_evaluation_through_the_api_has_the_worker_close_btc_and_0_05_eth(
    client, risk_trader, reference_book, tmp_path
):
    btc, eth, sol = reference_book
    client.force_login(risk_trader)
    log = tmp_path / "worker.log"
    with running(worker_command(concurrency=2), log, process_env()):
        response = client.post("/api/v1/risk/run-evaluation/")

        assert response.status_code == 202, response.content  # a job: the worker evaluates
        job_url = response.json()["url"]
        wait_until(
            lambda: client.get(job_url).json()["status"] == "succeeded",
            timeout=60,
            what="the worker to run the evaluation job",
            log=log,
        )
        body = client.get(job_url).json()["result"]
        assert (body["executed"], body["loser"]["symbol"], body["required_usd"]) == (True, "BTC/USDT", "5.000000000000")
        assert [(w["symbol"], w["quantity"]) for w in body["winners"]] == [("ETH/USDT", "0.050000000000")]
        wait_until(lambda: offset_done(btc, eth), timeout=60, what="the worker to close BTC and reduce ETH", log=log)

    assert_reference_offset_reached_the_exchange(risk_trader, btc, eth, sol)
    assert "close_position_task" in log.read_text()


def test_beat_dispatches_the_evaluation_and_the_worker_executes_the_offset(risk_trader, reference_book, tmp_path):
    btc, eth, sol = reference_book
    env = process_env()
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    with running(worker_command(concurrency=2), worker_log, env), running(beat_command(tmp_path), beat_log, env):
        # dispatch_risk_evaluations_task runs every 5 s; nothing but beat starts this evaluation.
        wait_until(
            lambda: offset_done(btc, eth), timeout=90, what="beat → evaluate_risk_task → the closes", log=worker_log
        )

    assert_reference_offset_reached_the_exchange(risk_trader, btc, eth, sol)
    assert "risk.tasks.evaluate_risk_task" in worker_log.read_text()
    assert RiskConfig.objects.get(user=risk_trader).last_evaluated_at is not None
