"""The Procfile's processes (gunicorn, celery worker, celery beat) as real subprocesses, driven from outside.

A ``Stack`` talks to the engine the way a trader and an operator do: HTTP (the webhook, ``/api/v1/``
with a token, ``/healthz``) and management commands (``demo``, ``paper price``, ``paper fault``). Assertions read the
database at the end (``invariants``). Everything listens and connects on 127.0.0.1 only.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from config.embedded_db import Cluster, free_port
from tests.alert_bodies import Exactly, alert_body
from tests.paper_markets import WALKTHROUGH_FILTERS
from tests.processes import ROOT, procfile_command, web_command
from tests.servers import DB_NAME, TEST_POSTGRES_SETTINGS, redis_command

# Intervals shortened so a test sees beat's work within seconds instead of the production cadence.
FAST_BEAT = {
    "FILL_SYNC_SECONDS": "1",
    "SIGNAL_SWEEP_SECONDS": "5",
    "QUEUE_PROMOTE_SECONDS": "2",
    "HEARTBEAT_INTERVAL_SECONDS": "2",
    "PAPER_TICK_SECONDS": "5",
}


def wait(predicate, *, timeout: float, what: str, interval: float = 0.5, logs: list[Path] = (), detail=None):
    """``predicate()`` once it is truthy; on timeout an AssertionError with the end of each log (and
    ``detail()``, when given: the state of the tables, say)."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            result = predicate()
        except Exception as exc:  # a process restarting, a server down: try again until the deadline
            result, last_error = None, exc
        if result:
            return result
        time.sleep(interval)
    tails = "".join(f"\n--- {log.name} ---\n{log.read_text(errors='replace')[-3000:]}" for log in logs if log.exists())
    if detail is not None:
        try:
            tails = f"\n--- state ---\n{detail()}{tails}"
        except Exception as exc:
            tails = f"\n--- state unavailable: {exc!r}{tails}"
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last error: {last_error!r}){tails}")


class Process:
    def __init__(self, name: str, command: list[str], env: dict, log: Path):
        self.name, self.command, self.env, self.log = name, command, env, log
        self.popen: subprocess.Popen | None = None

    def start(self) -> "Process":
        handle = open(self.log, "a")
        self.popen = subprocess.Popen(
            self.command, cwd=ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        handle.close()
        return self

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (gunicorn's and celery's children too) and reap it."""
        if not self.running:
            return
        os.killpg(self.popen.pid, sig)
        try:
            self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()
        if sig == signal.SIGKILL:  # orphans of a killed leader (a prefork child) keep the group alive
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def stop(self) -> None:
        self.kill(signal.SIGTERM)


class Stack:
    """web + worker + beat from the Procfile, on the database and Redis named by ``env``."""

    def __init__(self, workdir: Path, env: dict):
        self.workdir = workdir
        self.env = {**env, **FAST_BEAT}
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.processes: dict[str, Process] = {}
        self.session = requests.Session()

    # --- processes -----------------------------------------------------------------------------

    def start(self, name: str) -> Process:
        """Start ``web``, ``worker``/``worker2``… or ``beat``/``beat2``… (the Procfile's command)."""
        kind = name.rstrip("0123456789")
        if kind == "web":
            command = web_command(self.port, workers=2)
        elif kind == "worker":
            command = procfile_command("worker", WORKER_CONCURRENCY="2")
        elif kind == "beat":
            command = procfile_command("beat")
        else:
            raise ValueError(name)
        process = self.processes[name] = Process(name, command, self.env, self.workdir / f"{name}.log").start()
        if kind == "web":
            wait(
                lambda: self.session.get(self.url("/healthz"), timeout=5).status_code in (200, 503),
                timeout=90,
                what="gunicorn to answer /healthz",
                logs=[process.log],
            )
        return process

    def start_all(self) -> None:
        for name in ("web", "worker", "beat"):
            if name not in self.processes or not self.processes[name].running:
                self.start(name)

    def stop_all(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()

    @property
    def logs(self) -> list[Path]:
        return [process.log for process in self.processes.values()]

    def log_text(self, name: str) -> str:
        return self.processes[name].log.read_text(errors="replace")

    # --- management commands -------------------------------------------------------------------

    def manage(self, *args: str, timeout: float = 120) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    # --- HTTP ----------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return self.base_url + path

    def api(self, method: str, path: str, token: str, **kwargs) -> requests.Response:
        return self.session.request(
            method,
            self.url(f"/api/v1/{path.lstrip('/')}"),
            timeout=30,
            headers={"Authorization": f"Token {token}"},
            **kwargs,
        )

    def webhook(self, trader: "Trader", body: dict) -> requests.Response:
        # TradingView sends alerts as text/plain; the engine reads JSON whatever the type says.
        return self.session.post(
            self.url(f"/webhooks/{trader.user_id}/tradingview"),
            data=json.dumps(body),
            headers={"Content-Type": "text/plain"},
            timeout=30,
        )


class Trader:
    """The demo trader (``manage.py demo``) switched to a hand-driven paper feed without fees."""

    def __init__(self, stack: Stack, info: dict):
        self.stack = stack
        self.user_id = info["user_id"]
        self.secret = info["secret"]
        self.token = info["api_token"]

    @classmethod
    def from_demo(cls, stack: Stack, *, btc_price: str = "101") -> "Trader":
        trader = cls(stack, json.loads(stack.manage("demo", "--json")))
        accounts = trader.api("get", "exchange-accounts/").json()["results"]
        account = next(account for account in accounts if account["market_type"] == "spot")  # demo has a swap one too
        for other in accounts:  # any synthetic feed on the exchange would walk every price the tests set by hand
            if other["id"] != account["id"]:
                response = trader.api("patch", f"exchange-accounts/{other['id']}/", json={"price_feed": "manual"})
                assert response.status_code == 200, response.text
        response = trader.api(
            "patch",
            f"exchange-accounts/{account['id']}/",
            json={
                "price_feed": "manual",
                "maker_fee_percent": "0",
                "taker_fee_percent": "0",
                "market_slippage_percent": "0",
                "starting_balance": "100000",
            },
        )
        assert response.status_code == 200, response.text
        trader.account_id = account["id"]
        stack.manage("paper", "market", "binance", "BTC/USDT", *WALKTHROUGH_FILTERS)
        stack.manage("paper", "price", "binance", "BTC/USDT", btc_price)
        return trader

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.stack.api(method, path, self.token, **kwargs)

    def arm(self, **faults: int) -> None:
        """Arm paper-exchange faults on the trader's account as an operator does: ``manage.py paper fault``."""
        for fault, count in faults.items():
            self.stack.manage("paper", "fault", str(self.account_id), fault, str(count))

    def faults_left(self) -> dict:
        """What is left of the armed faults (not shown to the trader: read from the database)."""
        from exchanges.models import ExchangeAccount

        return ExchangeAccount.objects.get(pk=self.account_id).paper_faults

    def alert(
        self,
        *,
        entry_price: str,
        symbol: str = "BTCUSDT",
        timeframe: str = "15",
        intent: str = "signal",
        side: str = "buy",
        trade_id: str = "stack",
    ) -> dict:
        return alert_body(
            user_id=self.user_id,
            secret=self.secret,
            tv=Exactly(
                exchange="BINANCE",
                symbol=symbol,
                timeframe=timeframe,
                action=side,
                market_position="long",
                prev_market_position="flat",
                entry_price=entry_price,
                close_price=entry_price,
            ),
            strategy_info={"trade_id": trade_id, "alert_name": "stack test", "alert_message": ""},
            execution_intent={"type": intent, "side": side, "position_size_type": "quote"},
        )

    def send(self, **alert) -> str:
        """Send one alert; the accepted signal's id (asserting 202)."""
        response = self.stack.webhook(self, self.alert(**alert))
        assert response.status_code == 202, (response.status_code, response.text)
        return response.json()["signal_id"]


# --- Private servers, for the tests that stop them ---------------------------------------------


class RedisServer:
    """A redis-server of the test's own on a free loopback port; stop and start it at will."""

    def __init__(self, workdir: Path):
        self.workdir, self.port, self.popen = workdir, free_port(), None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        log = open(self.workdir / "own-redis.log", "a")
        self.popen = subprocess.Popen(redis_command(self.port, self.workdir), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait(self._answers, timeout=30, what=f"redis on {self.port}", interval=0.1)
        return self

    def _answers(self) -> bool:
        import redis

        return redis.Redis(port=self.port, socket_timeout=1).ping()

    def stop(self) -> None:
        if self.popen and self.popen.poll() is None:
            self.popen.kill()  # as a crash would: no goodbye to the clients
            self.popen.wait()


class PostgresServer:
    """A PostgreSQL cluster of the test's own (the embedded wheel, like tests.servers), restartable on its port."""

    def __init__(self, workdir: Path):
        self.workdir = Path(tempfile.mkdtemp(prefix="engine-stack-pg-"))
        self.logdir = workdir
        self.cluster = Cluster(self.workdir / "postgres", port=free_port(), settings=TEST_POSTGRES_SETTINGS)
        self.port = self.cluster.port
        self.url = ""

    def init(self) -> "PostgresServer":
        self.cluster.init()
        self.start()
        self.cluster.create_database(DB_NAME)
        self.url = self.cluster.url(DB_NAME)
        return self

    def start(self) -> None:
        self.cluster.start()

    def remove(self) -> None:
        self.stop()
        if self.cluster.log.exists():  # kept beside the test's other logs
            shutil.copy(self.cluster.log, self.logdir / "own-postgres.log")
        shutil.rmtree(self.workdir, ignore_errors=True)

    def stop(self) -> None:
        """A fast shutdown: open transactions are rolled back, every client is disconnected."""
        self.cluster.stop()

    def connect(self):
        import psycopg2

        connection = psycopg2.connect(**self.cluster.connect_kwargs(DB_NAME))
        connection.autocommit = True
        return connection
