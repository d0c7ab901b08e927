"""``make run`` and ``make reset``: the engine on its embedded defaults, and wiping them.

    python -m config.launcher run     # database, migrate, demo, then web + worker + beat (Procfile.dev)
    python -m config.launcher reset   # stop the embedded database and remove var/

``run`` without ``DATABASE_URL`` starts the embedded PostgreSQL under ``var/postgres/`` (first use:
initdb, about a second), or adopts the one a crashed run left up, and exports its ``DATABASE_URL`` to
every process it starts. honcho runs the ``Procfile.dev`` processes; Ctrl-C (or SIGTERM/SIGHUP) stops
them, then the database. honcho starts each process in a session of its own, so a honcho that dies
(a closed pipe: ``make run | head``) would leave them running: every process below honcho is noted
while it runs and any still alive at the end is stopped too.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Seconds the processes get to stop after SIGTERM (celery finishes its task, then exits) before SIGKILL.
STOP_GRACE_SECONDS = 20


def say(message: str) -> None:
    try:
        print(f"[make run] {message}", flush=True)
    except (BrokenPipeError, OSError):  # our own stdout closed (a pipe's reader gone): keep stopping things
        pass


def _settings():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.conf import settings

    return settings


def run() -> int:
    settings = _settings()
    from config import embedded_db

    env = dict(os.environ)
    # The web port (Procfile.dev); the printed URLs follow it unless PUBLIC_BASE_URL says otherwise.
    env.setdefault("RUN_PORT", "8000")
    env.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{env['RUN_PORT']}")
    cluster = None
    if settings.EMBEDDED_DATABASE:
        try:
            env["DATABASE_URL"] = embedded_db.ensure_running(settings.VAR_DIR)
        except embedded_db.EmbeddedPostgresError as exc:
            say(str(exc))
            return 1
        cluster = embedded_db.embedded_cluster(settings.VAR_DIR)
        say(f"PostgreSQL (embedded) up, data in {cluster.folder}")
    python = sys.executable
    try:
        subprocess.run(
            [python, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL
        )
        # Set up before beat starts; the banner is printed once, by Procfile.dev's `ready` when /healthz answers.
        subprocess.run([python, "manage.py", "demo"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        say("Starting web, worker and beat (Ctrl-C stops everything)...")
        return _supervise([str(Path(python).with_name("honcho")), "-f", "Procfile.dev", "start"], env)
    except subprocess.CalledProcessError as exc:
        say(f"{' '.join(exc.cmd[1:])} failed with status {exc.returncode}")
        return exc.returncode
    finally:
        if cluster is not None:
            cluster.stop()
            say("PostgreSQL (embedded) stopped")


def _supervise(command: list[str], env: dict) -> int:
    import psutil

    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    # honcho writes to a pipe of ours, never to our stdout: a closed terminal pipe (`make run | tee`,
    # then Ctrl-C kills tee) must not kill honcho half-way through stopping its processes.
    honcho = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    threading.Thread(target=_relay, args=(honcho.stdout,), daemon=True).start()
    seen: dict[int, psutil.Process] = {}
    stop_requested_at: float | None = None

    def stop(signum, _frame):
        nonlocal stop_requested_at
        if stop_requested_at is None:
            stop_requested_at = time.monotonic()
        if honcho.poll() is None:
            honcho.send_signal(signal.SIGTERM)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)
    try:
        while honcho.poll() is None:
            try:
                for child in psutil.Process(honcho.pid).children(recursive=True):
                    seen.setdefault(child.pid, child)
            except psutil.NoSuchProcess:
                pass
            if stop_requested_at is not None and time.monotonic() - stop_requested_at > STOP_GRACE_SECONDS:
                say(f"honcho did not stop within {STOP_GRACE_SECONDS} s; killing it")
                honcho.kill()
            time.sleep(0.5)
    finally:
        # psutil.Process remembers its start time: a pid reused by another program is not touched.
        leftovers = [process for process in seen.values() if process.is_running()]
        for process in leftovers:
            try:
                process.terminate()
            except psutil.NoSuchProcess:
                pass
        _, alive = psutil.wait_procs(leftovers, timeout=STOP_GRACE_SECONDS)
        for process in alive:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        if leftovers:
            say(f"stopped {len(leftovers)} process(es) honcho left behind")
    return 0 if stop_requested_at is not None else honcho.returncode


def _relay(stream) -> None:
    """Copy honcho's output to ours; once our stdout is gone, keep reading (so honcho never blocks) and drop it."""
    out = sys.stdout.buffer
    for line in iter(stream.readline, b""):
        try:
            out.write(line)
            out.flush()
        except (BrokenPipeError, OSError):
            pass


def reset() -> int:
    settings = _settings()
    from config import embedded_db

    embedded_db.embedded_cluster(settings.VAR_DIR).stop()
    shutil.rmtree(settings.VAR_DIR, ignore_errors=True)
    say(f"removed {settings.VAR_DIR} (database, broker queue, cache, generated keys)")
    return 0


if __name__ == "__main__":
    commands = {"run": run, "reset": reset}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        sys.exit(f"usage: python -m config.launcher {'|'.join(commands)}")
    sys.exit(commands[sys.argv[1]]())
