"""Redis and PostgreSQL going away under the running stack.

Each test runs its own server of the kind it stops (a second redis-server, a second PostgreSQL cluster
on free loopback ports), so the shared servers of ``make test`` are never disturbed.
"""

import threading
import time
from decimal import Decimal

import pytest

from exchanges.models import PaperOrder
from tests.processes import process_env, procfile_command
from tests.stack.invariants import assert_books_straight, books_straight, counts, database_state, rows
from tests.stack.stack import PostgresServer, RedisServer, Stack, Trader, wait
from trading.models import Order, Signal

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
D = Decimal
# TradingView gives up on a webhook after 3 s.
TRADINGVIEW_TIMEOUT_SECONDS = 3


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def own_postgres(tmp_path):
    server = PostgresServer(tmp_path)
    try:
        yield server.init()
    finally:
        server.remove()


def test_webhooks_are_stored_while_redis_is_down_and_routed_once_it_is_back(transactional_db, tmp_path, own_redis):
    stack = Stack(tmp_path, process_env(REDIS_URL=own_redis.url))
    try:
        stack.start("web")
        trader = Trader.from_demo(stack)
        stack.start("worker")
        stack.start("beat")
        trader.send(entry_price="100")
        wait(
            lambda: PaperOrder.objects.filter(status="open").count() == 5,
            timeout=90,
            what="the first grid",
            logs=stack.logs,
            detail=database_state,
        )

        own_redis.stop()
        accepted = []
        for entry_price in ("99", "98"):  # two pyramids
            started = time.monotonic()
            accepted.append(trader.send(entry_price=entry_price, trade_id=f"pyramid-{entry_price}"))
            assert time.monotonic() - started < TRADINGVIEW_TIMEOUT_SECONDS
        health = stack.session.get(stack.url("/healthz"), timeout=10)
        assert health.status_code == 503 and health.json()["database"] == "ok" and health.json()["broker"] != "ok"
        assert set(Signal.objects.filter(pk__in=accepted).values_list("status", flat=True)) == {"received"}

        time.sleep(3)  # worker and beat notice the broker is gone
        own_redis.start()  # same port: the processes reconnect by themselves
        # The signal sweep re-sends a signal unrouted for 60 s (SWEEP_FIRST_RESEND_AFTER_SECONDS, a
        # constant: no setting shortens it), so allow a minute and a half.
        wait(
            lambda: set(Signal.objects.filter(pk__in=accepted).values_list("status", flat=True)) == {"pyramided"},
            timeout=150,
            what="the stored signals to be routed after Redis came back",
            logs=stack.logs,
            detail=database_state,
        )
        wait(
            lambda: Order.objects.filter(role="entry", status="open").count() == 15,
            timeout=90,
            what="both pyramids' grids",
            logs=stack.logs,
            detail=database_state,
        )
        assert stack.session.get(stack.url("/healthz"), timeout=10).status_code == 200
        assert "signal sweep re-sent" in stack.log_text("worker")
        assert PaperOrder.objects.count() == 15
        books_straight()
    finally:
        stack.stop_all()


class Hammer(threading.Thread):
    """Sends a fresh alert every ``interval`` seconds until stopped; keeps every answer."""

    def __init__(self, stack: Stack, trader: Trader, interval: float = 0.25):
        super().__init__(daemon=True)
        self.stack, self.trader, self.interval = stack, trader, interval
        self.answers: list[tuple[int, dict | None]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        cents = 9900
        while not self.halt.is_set():
            cents -= 1  # a new entry price: a new body, never a duplicate
            body = self.trader.alert(entry_price=f"{cents / 100:.2f}", trade_id=f"load-{cents}")
            try:
                response = self.stack.webhook(self.trader, body)
                is_json = response.headers.get("Content-Type", "").startswith("application/json")
                self.answers.append((response.status_code, response.json() if is_json else None))
            except Exception as exc:  # the web process itself must keep answering: record it, fail below
                self.answers.append((0, {"error": repr(exc)}))
            self.halt.wait(self.interval)


def test_postgres_restart_under_load_answers_503_and_leaves_nothing_half_written(
    transactional_db, tmp_path, own_postgres
):
    stack = Stack(tmp_path, process_env(DATABASE_URL=own_postgres.url))
    try:
        stack.manage(*procfile_command("release")[2:])  # the Procfile's release step: migrate
        stack.start("web")
        trader = Trader.from_demo(stack)
        stack.start("worker")
        stack.start("beat")
        db = own_postgres.connect()
        cursor = db.cursor()
        trader.send(entry_price="100")
        wait(
            lambda: rows(cursor, "SELECT count(*) FROM exchanges_paperorder WHERE status = 'open'")[0][0] == 5,
            timeout=90,
            what="the first grid",
            logs=stack.logs,
        )
        db.close()

        hammer = Hammer(stack, trader)
        hammer.start()
        time.sleep(3)
        own_postgres.stop()
        down_at = len(hammer.answers)
        time.sleep(5)
        during = [status for status, _ in hammer.answers[down_at:]]
        own_postgres.start()
        time.sleep(5)
        hammer.halt.set()
        hammer.join(timeout=30)

        statuses = [status for status, _ in hammer.answers]
        assert set(statuses) <= {202, 503}, statuses
        # A request the database committed just before going away may still answer 202; after that, 503.
        assert during.count(503) >= len(during) - 1 and 503 in during, during
        assert statuses[-1] == 202, statuses  # answering again once the database is back
        accepted = {payload["signal_id"] for status, payload in hammer.answers if status == 202}

        db = own_postgres.connect()
        cursor = db.cursor()
        # Every 202 is a stored signal and every 503 stored nothing.
        stored = {str(row[0]) for row in rows(cursor, "SELECT id FROM trading_signal WHERE http_status = 202")}
        assert accepted <= stored and len(stored) == len(accepted) + 1  # + the first alert

        def settled():
            return (
                not rows(cursor, "SELECT 1 FROM trading_signal WHERE status IN ('received', 'queued')")
                and not rows(cursor, "SELECT 1 FROM trading_order WHERE status IN ('pending', 'unknown')")
                and not rows(cursor, "SELECT 1 FROM trading_pyramid WHERE status = 'pending'")
                and not rows(cursor, "SELECT 1 FROM trading_positiongroup WHERE status IN ('waiting', 'closing')")
            )

        wait(
            settled,
            timeout=180,
            what="every signal routed and every grid placed after the restart",
            logs=stack.logs,
            detail=lambda: counts(cursor),
        )
        assert_books_straight(cursor)
        # Four pyramids at most joined the group (max_pyramids 5 counts the first entry); the rest ignored.
        assert rows(cursor, "SELECT count(*) FROM trading_pyramid")[0][0] == 5
        assert rows(cursor, "SELECT count(*) FROM exchanges_paperorder")[0][0] == 25
        assert stack.session.get(stack.url("/healthz"), timeout=10).status_code == 200
        db.close()
    finally:
        stack.stop_all()
