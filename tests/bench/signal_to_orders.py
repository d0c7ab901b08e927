"""Signal received → every leg acknowledged by the paper exchange, with one real Celery worker.

Each signal opens a new group (a distinct timeframe), so every measurement is a full open: routing
(lock, decision, group, pyramid and five legs written) then placement of the five legs. The figure
is the paper exchange's timestamp of the last leg minus the signal's receipt timestamp, both
written by the database clock, so polling adds nothing to it.
"""

import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from django.db import transaction
from django.db.models import Max

from exchanges.models import ExchangeAccount, PaperOrder
from exchanges.paper.services import paper_markets_ensure, paper_price_set
from tests.alert_bodies import OMIT, Exactly, alert_body
from tests.bench import Row
from tests.processes import process_env, running, wait_until, worker_command
from trading.models import DCAConfiguration, RiskConfig, Signal, User
from trading.tasks import route_signal_task

SIGNALS = 200
LEGS = 5
TARGET_P50_MS, TARGET_P99_MS = 150, 500


def _setup() -> User:
    user, _ = User.objects.get_or_create(username="bench-signals")
    account, _ = ExchangeAccount.objects.get_or_create(
        user=user,
        exchange_id="binance",
        defaults={"price_feed": "manual", "starting_balance": Decimal("1e12"), "mode": "paper"},
    )
    RiskConfig.objects.filter(user=user).update(
        max_open_positions_global=100000,
        max_open_positions_per_symbol=100000,
        max_total_exposure_usd=Decimal("1e15"),
    )
    levels = [{"gap_percent": str(-i), "weight_percent": "20", "tp_percent": "2"} for i in range(LEGS)]
    DCAConfiguration.objects.get_or_create(
        user=user,
        exchange="binance",
        pair="*",
        timeframe=None,
        defaults={"levels": levels, "capital_usd": Decimal("1000"), "max_pyramids": 5},
    )
    paper_markets_ensure("binance")
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=Decimal("70000"))  # above every leg: all rest
    return user


def _payload(user: User, timeframe: int) -> dict:
    from django.utils import timezone

    return alert_body(
        user_id=user.id,
        timestamp=timezone.now().isoformat(),
        strategy_info=OMIT,
        risk=OMIT,
        tv=Exactly(exchange="BINANCE", symbol="BTCUSDT", timeframe=str(timeframe), action="buy", entry_price="60000"),
        execution_intent=Exactly(type="signal", side="buy"),
    )


def _store(user: User, timeframe: int) -> Signal:
    """What the webhook does: store the signal, enqueue routing on commit."""
    with transaction.atomic():
        signal = Signal.objects.create(
            user=user,
            payload=_payload(user, timeframe),
            intent="signal",
            exchange="binance",
            tv_symbol="BTCUSDT",
            timeframe=timeframe,
            entry_price=Decimal("60000"),
        )
        transaction.on_commit(lambda: route_signal_task.delay(str(signal.pk)))
    return signal


def _acknowledged_ms(signal: Signal) -> float | None:
    signal.refresh_from_db()
    if signal.position_group_id is None:
        return None
    clients = list(signal.position_group.orders.values_list("client_order_id", flat=True))
    placed = PaperOrder.objects.filter(client_order_id__in=clients)
    if len(clients) < LEGS or placed.count() < LEGS:
        return None
    last = placed.aggregate(t=Max("created_at"))["t"]
    return (last - signal.received_at).total_seconds() * 1000


def run() -> list[Row]:
    user = _setup()
    log = Path(tempfile.mkdtemp()) / "worker.log"
    latencies = []
    with running(worker_command(concurrency=1), log, process_env()):
        warm = _store(user, 100000)
        wait_until(lambda: _acknowledged_ms(warm), timeout=120, what="the worker to place the warm-up grid", log=log)
        for timeframe in range(1, SIGNALS + 1):
            signal = _store(user, timeframe)
            latencies.append(
                wait_until(
                    lambda signal=signal: _acknowledged_ms(signal),
                    timeout=30,
                    interval=0.005,
                    what=f"signal {timeframe}",
                    log=log,
                )
            )
            time.sleep(0.02)
    latencies.sort()
    p50 = statistics.median(latencies)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    return [
        Row(
            "signal to orders",
            f"signal received → all {LEGS} legs on the paper exchange, 1 worker, {SIGNALS} signals",
            f"p50 {p50:.0f} ms, p99 {p99:.0f} ms",
            f"p50 ≤ {TARGET_P50_MS} ms, p99 ≤ {TARGET_P99_MS} ms",
            p50 <= TARGET_P50_MS and p99 <= TARGET_P99_MS,
        )
    ]
