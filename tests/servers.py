"""Run a command against throwaway PostgreSQL and Redis servers.

    python -m tests.servers pytest -q

Installs the servers with apt-get when they are missing and we are root, starts both on free
loopback ports in a temporary directory (PostgreSQL tuned for tests: no fsync), exports
``DATABASE_URL`` and ``REDIS_URL`` to the command, stops both afterwards and exits with the
command's status. Nothing listens beyond 127.0.0.1.

When the command runs pytest, Debian's ``chromium`` (for the browser tests in ``tests/browser``) is
installed the same way when missing; its path goes to the command as ``CHROMIUM_PATH``.
"""

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, closing
from pathlib import Path

DB_NAME = "engine"
DB_USER = "engine"
DB_PASSWORD = "engine"


def say(message: str) -> None:
    print(f"[test servers] {message}", flush=True)


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bindir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if candidates:
        return Path(candidates[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def ensure_installed() -> None:
    missing = []
    if postgres_bindir() is None:
        missing.append("postgresql")
    if shutil.which("redis-server") is None:
        missing.append("redis-server")
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit(
            f"[test servers] {' and '.join(missing)} not installed and not running as root: "
            f"install them (sudo apt-get install -y {' '.join(missing)}) and run again."
        )
    say(f"installing {' '.join(missing)} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    if subprocess.run(command, env=env).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=True)
        subprocess.run(command, env=env, check=True)
    # Debian's package starts a cluster of its own; we use private instances only.
    subprocess.run(["service", "postgresql", "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
        say("chromium not installed and not running as root: the browser tests will fail "
            "(sudo apt-get install -y chromium)")
        return None
    say("installing chromium with apt-get (for the browser tests)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "install", "-y", "--no-install-recommends", *CHROMIUM_PACKAGES]
    if subprocess.run(command, env=env).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=True)
        subprocess.run(command, env=env, check=True)
    return chromium_path()


def as_postgres_user(command: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root; run them as the postgres system user."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def wait_for_port(port: int, process: subprocess.Popen, name: str, timeout: float = 60) -> None:
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
    bindir = postgres_bindir()
    datadir = workdir / "pgdata"
    workdir.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
    pwfile = workdir / "pwfile"
    pwfile.write_text(DB_PASSWORD)
    if os.geteuid() == 0:
        shutil.chown(pwfile, "postgres")
    subprocess.run(
        as_postgres_user(
            [str(bindir / "initdb"), "-D", str(datadir), "-U", DB_USER, "--pwfile", str(pwfile),
             "-A", "scram-sha-256", "-E", "UTF8", "--no-sync"]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    port = free_port()
    log = open(workdir / "postgres.log", "w")
    stack.callback(log.close)
    process = subprocess.Popen(
        as_postgres_user(
            [str(bindir / "postgres"), "-D", str(datadir), "-p", str(port), "-h", "127.0.0.1",
             "-k", str(workdir), "-c", "fsync=off", "-c", "synchronous_commit=off",
             "-c", "full_page_writes=off", "-c", "max_connections=300", "-c", "shared_buffers=256MB"]
        ),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    stack.callback(stop, process, "postgres")
    wait_for_port(port, process, "postgres")
    url = f"postgres://{DB_USER}:{DB_PASSWORD}@127.0.0.1:{port}/{DB_NAME}"
    env = {**os.environ, "PGPASSWORD": DB_PASSWORD}
    for _ in range(50):  # the port opens a moment before connections are accepted
        created = subprocess.run(
            [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", DB_USER, DB_NAME],
            env=env, capture_output=True, text=True,
        )
        if created.returncode == 0:
            break
        time.sleep(0.2)
    else:
        sys.exit(f"[test servers] createdb failed: {created.stderr}")
    say(f"PostgreSQL ({bindir.parent.name}) on 127.0.0.1:{port}")
    return url


def start_redis(stack: ExitStack, workdir: Path) -> str:
    port = free_port()
    log = open(workdir / "redis.log", "w")
    stack.callback(log.close)
    process = subprocess.Popen(
        [shutil.which("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(workdir)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    stack.callback(stop, process, "redis")
    wait_for_port(port, process, "redis")
    say(f"Redis on 127.0.0.1:{port}")
    return f"redis://127.0.0.1:{port}/0"


def main(command: list[str]) -> int:
    if not command:
        sys.exit("usage: python -m tests.servers COMMAND [ARGS…]")
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
