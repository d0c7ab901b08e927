"""The embedded PostgreSQL of `make run` (config/embedded_db.py): a fresh cluster from the wheel trades.

These tests start clusters of their own in temporary folders and run the engine's management commands
against them in subprocesses with no DATABASE_URL, as a newcomer's `make run` does: settings find the
running server's socket under VAR_DIR.
"""

import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import psutil
import pytest

from config import embedded_db

ROOT = Path(__file__).resolve().parent.parent
D = Decimal


def embedded_env(var_dir: Path) -> dict:
    """The environment of a newcomer's shell: no DATABASE_URL, no Redis; VAR_DIR is the test's."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")}
    env["VAR_DIR"] = str(var_dir)
    return env


def manage(var_dir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=embedded_env(var_dir),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def embedded(tmp_path):
    """A fresh embedded cluster under tmp_path/postgres (the socket mode `make run` uses), migrated."""
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    url = embedded_db.ensure_running(var_dir)
    cluster = embedded_db.embedded_cluster(var_dir)
    try:
        assert url.startswith(f"postgres://postgres@/{cluster.folder}/")  # a unix socket: nothing on the network
        migrated = manage(var_dir, "migrate", "--noinput")
        assert migrated.returncode == 0, migrated.stderr
        yield var_dir
    finally:
        cluster.stop()


# Three buys crossed by one price, then two sells crossed by another: the UPDATE … FROM (VALUES …)
# that SQLite could not run, and balances that SQLite stored as floating point.
MATCHING_SCRIPT = """
import django, json
django.setup()
from decimal import Decimal as D
from django.core.management import call_command
from exchanges.paper.connector import PaperConnector
from exchanges.paper.services import paper_balances, paper_price_set
from tests.factories import ExchangeAccountFactory

call_command("paper", "market", "binance", "BTC/USDT", "--tick", "0.01", "--step", "0.001", "--min-qty", "0.001",
             "--min-notional", "0.1")
connector = PaperConnector(ExchangeAccountFactory(price_feed="manual", starting_balance=D("10000"),
                                                  maker_fee_percent=D("0.1")))
for n, (amount, price) in enumerate([("0.010", "100.00"), ("0.020", "99.00"), ("0.030", "98.50")]):
    connector.create_order(symbol="BTC/USDT", side="buy", type="limit", amount=D(amount), price=D(price),
                           client_order_id=f"dceb{n}")
bought = paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("98.00")).fills
for n, (amount, price) in enumerate([("0.020", "101.00"), ("0.025", "102.50")]):
    connector.create_order(symbol="BTC/USDT", side="sell", type="limit", amount=D(amount), price=D(price),
                           client_order_id=f"dces{n}")
sold = paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("103.00")).fills
balances = {b.asset: [str(b.free), str(b.used)] for b in paper_balances(connector.account)}
print(json.dumps({"bought": bought, "sold": sold, "balances": balances}))
"""


def test_a_fresh_cluster_from_the_wheel_migrates_and_matches_crossing_orders_to_exact_decimals(embedded):
    result = subprocess.run(
        [sys.executable, "-c", MATCHING_SCRIPT],
        cwd=ROOT,
        env={**embedded_env(embedded), "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert (outcome["bought"], outcome["sold"]) == (3, 2)
    free = {asset: D(values[0]) for asset, values in outcome["balances"].items()}
    used = {asset: D(values[1]) for asset, values in outcome["balances"].items()}
    # Buys at their limits: 1 + 1.98 + 2.955 USDT; 0.06 BTC less the 0.1 % maker fee taken in BTC.
    # Sells: 2.02 + 2.5625 USDT less 0.1 % in USDT. To the last unit, not 8.059999999999999.
    assert free["USDT"] == D("10000") - D("5.935") + D("2.02") - D("0.00202") + D("2.5625") - D("0.0025625")
    assert free["USDT"] == D("9998.6429175")
    assert free["BTC"] == D("0.06") - D("0.00006") - D("0.045") == D("0.01494")
    assert used == {"USDT": 0, "BTC": 0}
    assert outcome["balances"]["USDT"][0] == "9998.642917500000"  # NUMERIC as written, not a REAL read back


def test_management_commands_reach_the_running_server_without_any_export_and_say_what_to_do_when_it_is_down(embedded):
    up = manage(embedded, "engine", "status")
    assert up.returncode == 0, up.stderr

    embedded_db.embedded_cluster(embedded).stop()
    down = manage(embedded, "engine", "status")

    assert down.returncode == 1
    assert "The embedded PostgreSQL" in down.stderr and "is not running" in down.stderr
    assert "make run" in down.stderr and "DATABASE_URL" in down.stderr
    assert "Traceback" not in down.stderr


def test_a_crashed_run_is_recovered_whether_its_server_died_or_is_still_up(tmp_path):
    var_dir = tmp_path / "var"
    embedded_db.ensure_running(var_dir)
    cluster = embedded_db.embedded_cluster(var_dir)
    try:
        # Still up (the launcher was SIGKILLed): adopted as it is, same server.
        first_pid = cluster.postmaster()["pid"]
        embedded_db.ensure_running(var_dir)
        assert cluster.postmaster()["pid"] == first_pid

        # Died with the machine: postmaster.pid stays behind, naming a process that is gone.
        os.kill(first_pid, signal.SIGKILL)
        psutil.Process(first_pid).wait(timeout=10) if psutil.pid_exists(first_pid) else None
        assert (cluster.data / "postmaster.pid").exists() and not cluster.is_running()
        embedded_db.ensure_running(var_dir)
        assert cluster.is_running() and cluster.postmaster()["pid"] != first_pid

        # After a reboot the stale file may name a live process that is not postgres (here: ourselves).
        cluster.stop()
        pidfile = cluster.data / "postmaster.pid"
        pidfile.write_text(f"{os.getpid()}\n{cluster.data}\n0\n5432\n{cluster.folder}\n\n0 0\nready\n")
        embedded_db.ensure_running(var_dir)
        assert cluster.is_running()
        assert manage(var_dir, "migrate", "--noinput").returncode == 0  # the data survived every restart
    finally:
        cluster.stop()
    assert not cluster.is_running()


def test_sqlite_and_a_production_without_database_url_refuse_to_start_with_the_way_out(tmp_path):
    sqlite = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**embedded_env(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"},
    )
    production = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={
            **embedded_env(tmp_path),
            "DJANGO_ENV": "production",
            "SECRET_KEY": "x" * 50,
            "FIELD_ENCRYPTION_KEYS": "ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg=",
        },
    )

    assert sqlite.returncode != 0
    assert "only PostgreSQL is supported" in sqlite.stderr and "DATABASE_URL=postgres://" in sqlite.stderr
    assert production.returncode != 0
    assert "DATABASE_URL must be set when DJANGO_ENV=production" in production.stderr
    assert not (tmp_path / "db.sqlite3").exists()


def test_a_folder_too_deep_for_a_unix_socket_listens_on_loopback_only(tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    cluster = embedded_db.Cluster(deep / "postgres")
    cluster.init()
    cluster.start()
    try:
        params = cluster.connect_kwargs("postgres")
        assert params["host"] == "127.0.0.1" and params["password"]
        listening = {
            c.laddr.ip
            for c in psutil.Process(cluster.postmaster()["pid"]).net_connections("inet")
            if c.status == psutil.CONN_LISTEN
        }
        assert listening == {"127.0.0.1"}
        import psycopg2

        with pytest.raises(psycopg2.OperationalError, match="password"):
            psycopg2.connect(
                host="127.0.0.1",
                port=params["port"],
                user="postgres",
                dbname="postgres",
                password="wrong",
                connect_timeout=5,
            ).close()
    finally:
        cluster.stop()


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
