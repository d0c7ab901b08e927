"""Start the engine's real processes (celery worker, celery beat) against the test database.

Tests that use these need ``transactional_db`` so what the test writes is committed and visible to
the other processes, and what they write is visible to the test.
"""

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
CELERY = str(Path(sys.executable).with_name("celery"))


def process_env(**overrides: str) -> dict[str, str]:
    """The environment of the test run, pointed at the test database pytest-django created."""
    db = connection.settings_dict
    env = dict(os.environ)
    env["DATABASE_URL"] = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    # Tests read the processes' logs for the routine itself (a heartbeat ran, a second beat sends too).
    env["LOG_ROUTINE"] = "true"
    env.update(overrides)
    return env


@contextmanager
def running(command: list[str], log_path: Path, env: dict[str, str]):
    """Run ``command`` for the duration of the block; its output goes to ``log_path``."""
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def worker_command(concurrency: int = 1) -> list[str]:
    return [
        CELERY,
        "-A",
        "config",
        "worker",
        "--loglevel=INFO",
        f"--concurrency={concurrency}",
        "--without-heartbeat",
        "--without-mingle",
        "--without-gossip",
    ]


def beat_command(schedule_dir: Path) -> list[str]:
    return [CELERY, "-A", "config", "beat", "--loglevel=INFO", "--pidfile", str(schedule_dir / "beat.pid")]


def wait_until(predicate, *, timeout: float, interval: float = 0.2, what: str = "condition", log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    detail = f"\n--- {log} ---\n{log.read_text()[-4000:]}" if log and log.exists() else ""
    raise AssertionError(f"timed out after {timeout} s waiting for {what}{detail}")


# --- The Procfile's process set (tests/stack) --------------------------------------------------

PROCFILE = ROOT / "Procfile"
_PROCFILE_VARIABLE = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


def procfile_command(process: str, **variables: str) -> list[str]:
    """The Procfile's command line for ``process``, as the platform would run it here.

    ``${NAME:-default}`` takes ``variables[NAME]`` when given, else its default; ``python``,
    ``gunicorn`` and ``celery`` are this virtualenv's; gunicorn's ``0.0.0.0`` bind becomes
    127.0.0.1, so a test server never listens beyond loopback.
    """
    lines = dict(
        line.split(":", 1) for line in PROCFILE.read_text().splitlines() if line.strip() and not line.startswith("#")
    )
    if process not in lines:
        raise KeyError(f"the Procfile has no {process!r} process (it has {', '.join(lines)})")
    text = _PROCFILE_VARIABLE.sub(
        lambda match: variables.get(match.group(1), match.group(2) or ""), lines[process].strip()
    )
    command = shlex.split(text)
    if command[0] == "python":
        command[0] = sys.executable
    elif (Path(sys.executable).parent / command[0]).exists():
        command[0] = str(Path(sys.executable).parent / command[0])
    command = [part.replace("0.0.0.0:", "127.0.0.1:") if part.startswith("0.0.0.0:") else part for part in command]
    if "--bind" in command and not command[command.index("--bind") + 1].startswith("127.0.0.1:"):
        raise ValueError(f"refusing to bind beyond loopback: {command}")
    return command


def web_command(port: int, workers: int = 2) -> list[str]:
    """The Procfile's ``web`` (gunicorn) on 127.0.0.1:``port``."""
    return procfile_command("web", PORT=str(port), WEB_CONCURRENCY=str(workers))
