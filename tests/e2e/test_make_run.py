"""`make run` as a newcomer meets it: a fresh copy of the repository, no DATABASE_URL, no Redis.

The exact command the Makefile's `run` target runs (``python -m config.launcher run``, with the suite's
virtualenv instead of a new one) starts the embedded PostgreSQL from the wheel, web, worker and beat.
The test then does what the README tells a newcomer: wait for the banner, run its `curl`, move the
paper price through the grid with `manage.py paper price` (no export: the command finds the running
database under var/), and sees every leg filled with its take-profit on the paper exchange; then the
take-profits fill. Ctrl-C (SIGINT to the launcher's process group, as a terminal sends it) must leave
no postgres, celery or web process behind.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import psutil
import pytest
import requests

from config.embedded_db import free_port

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parent.parent.parent
D = Decimal


def fresh_copy(target: Path) -> Path:
    """The repository's files as a clone has them (tracked, plus new files not ignored): no var/, no .venv."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def wait_for(predicate, *, timeout: float, what: str, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except requests.RequestException:
            value = None
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(
        f"timed out after {timeout:.0f} s waiting for {what}\n--- make run ---\n"
        f"{log.read_text(errors='replace')[-4000:]}"
    )


def processes_of(copy: Path) -> list[psutil.Process]:
    """Every process working in the copy or naming it on its command line (postgres -D <copy>/var/...)."""
    found = []
    for process in psutil.process_iter(["cmdline", "cwd"]):
        try:
            cmdline, cwd = " ".join(process.info["cmdline"] or []), process.info["cwd"] or ""
        except psutil.Error:
            continue
        if str(copy) in cmdline or cwd.startswith(str(copy)):
            found.append(process)
    return found


def test_make_run_on_a_fresh_copy_trades_the_printed_curl_through_the_grid_and_ctrl_c_stops_everything(tmp_path):
    copy = fresh_copy(tmp_path / "engine")
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "VAR_DIR", "PUBLIC_BASE_URL")
    }
    env.update(RUN_PORT=str(port), PYTHONUNBUFFERED="1")
    log = tmp_path / "make-run.log"
    base = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "config.launcher", "run"],
            cwd=copy,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        banner = wait_for(
            lambda: "curl -sS" in log.read_text(errors="replace") and log.read_text(),
            timeout=120,
            what="the banner",
            log=log,
        )
        assert requests.get(f"{base}/healthz", timeout=5).status_code == 200
        curl = next(line.split("| ", 1)[-1] for line in banner.splitlines() if "curl -sS" in line)
        token = re.search(r"\(Token (\w+)\)", banner).group(1)
        api = requests.Session()
        api.headers["Authorization"] = f"Token {token}"

        sent = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, timeout=30)
        assert '"status": "accepted"' in sent.stdout, sent

        def position():
            listed = api.get(f"{base}/api/v1/positions/", timeout=5).json()["results"]
            return listed and api.get(f"{base}/api/v1/positions/{listed[0]['id']}/", timeout=5).json()

        def orders(role):
            found = position()
            return [o for p in found["pyramids"] for o in p["orders"] if o["role"] == role] if found else []

        def paper_price(price):
            moved = subprocess.run(
                [sys.executable, "manage.py", "paper", "price", "binance", "BTC/USDT", str(price)],
                cwd=copy,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert moved.returncode == 0, moved.stderr

        wait_for(
            lambda: len(orders("entry")) == 5 and all(o["status"] in ("open", "filled") for o in orders("entry")),
            timeout=60,
            what="the grid on the paper exchange",
            log=log,
        )
        lowest = min(D(o["price"]) for o in orders("entry"))

        paper_price(lowest - 100)

        wait_for(
            lambda: all(o["status"] == "filled" for o in orders("entry"))
            and len([o for o in orders("take_profit") if o["status"] in ("open", "filled")]) == 5,
            timeout=60,
            what="every leg filled with its take-profit on the exchange",
            log=log,
        )
        highest_tp = max(D(o["price"]) for o in orders("take_profit"))
        paper_price(highest_tp + 100)
        wait_for(
            lambda: all(o["status"] == "filled" for o in orders("take_profit")),
            timeout=60,
            what="every take-profit filled",
            log=log,
        )
        assert D(position()["realized_pnl_usd"]) > 0
    finally:
        os.killpg(launcher.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole foreground group
        try:
            launcher.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(launcher.pid, signal.SIGKILL)
            raise
    assert launcher.returncode == 0, log.read_text()[-3000:]
    # The launcher waited for everything it started; a moment for the kernel to reap the last children
    # (postgres's own processes exit after its shutdown checkpoint, slower on a loaded machine).
    deadline = time.monotonic() + 60
    while processes_of(copy) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = [(p.pid, " ".join(p.cmdline())[:120]) for p in processes_of(copy) if p.is_running()]
    assert left == [], left
    assert "PostgreSQL (embedded) stopped" in log.read_text()


def test_make_run_through_tee_is_quiet_when_idle_and_ctrl_c_stops_every_process(tmp_path):
    # `make run | tee run.log`, then Ctrl-C: the terminal signals the whole pipeline, so tee dies with
    # the launcher still writing to it; web, worker and beat (each in its own session under honcho)
    # once survived that and kept trading.
    copy = fresh_copy(tmp_path / "engine")
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "VAR_DIR", "PUBLIC_BASE_URL", "LOG_ROUTINE")
    }
    env.update(RUN_PORT=str(port), PYTHONUNBUFFERED="1")
    log = tmp_path / "run.log"
    log.touch()  # tee creates it too, a moment later
    pipeline = subprocess.Popen(
        ["bash", "-c", f"{sys.executable} -m config.launcher run | tee {log}"],
        cwd=copy,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(lambda: "curl -sS" in log.read_text(errors="replace"), timeout=120, what="the banner", log=log)
        at_banner = len(log.read_text(errors="replace").splitlines())
        time.sleep(20)  # idle: beat sends the paper feed every 2 s, the fill sync every 5 s, …
        idle = log.read_text(errors="replace").splitlines()[at_banner:]
        assert [line for line in idle if "paper_feed_tick" in line or "sync_fills" in line] == [], idle[:10]
        assert log.read_text().count("DCA engine is ready.") == 1  # one banner
        assert log.read_text().count("curl -sS") == 2  # its long alert and its SHORT alert (BTCUSDT.P)
    finally:
        os.killpg(pipeline.pid, signal.SIGINT)
        try:
            pipeline.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(pipeline.pid, signal.SIGKILL)
            raise
    deadline = time.monotonic() + 60
    while processes_of(copy) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = [(p.pid, " ".join(p.cmdline())[:120]) for p in processes_of(copy) if p.is_running()]
    assert left == [], left
