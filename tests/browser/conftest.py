"""Browser tests: Debian's chromium, driven by Playwright, against the real web app, worker and beat.

Only the system chromium is used (``CHROMIUM_PATH``, set by ``tests.servers``, else ``chromium`` on
the PATH); a missing browser fails the tests with the fix, it never skips them. The browser reaches
127.0.0.1 only: the host resolver maps every other name to NOTFOUND, and every request the page makes
off loopback is aborted and fails the test. Each scenario leaves a screenshot in
``var/test-artifacts/screenshots/`` (and ``<test>-failure.png`` when it fails).
"""

import os
import shutil
import time
from contextlib import ExitStack
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.db import connections

from tests.browser.helpers import SCREENSHOTS, Engine, save_screenshot
from tests.processes import beat_command, process_env, running, worker_command

# Generous: two cores are shared with the worker, beat, PostgreSQL and chromium; htmx polls every 5 s.
WAIT_MS = 60_000
LOOPBACK = "127.0.0.1"
CHROMIUM_ARGS = [
    "--no-sandbox",  # root in a container: no user namespaces for the sandbox
    "--disable-dev-shm-usage",  # the container's /dev/shm is small
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,AutofillServerCommunication",
    "--no-first-run",
    "--no-pings",
    "--no-proxy-server",
    f"--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE {LOOPBACK}",
]


def chromium_executable() -> str:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path or not os.access(path, os.X_OK):
        found = f"CHROMIUM_PATH={path} is not an executable" if path else "Debian's chromium is not installed"
        pytest.fail(
            f"{found}, so the browser tests cannot run. `make test` installs chromium "
            "when run as root (tests/servers.py); otherwise `sudo apt-get install -y chromium`, or point "
            "CHROMIUM_PATH at a chromium binary. (Never `playwright install`: the tests use the system browser.)",
            pytrace=False,
        )
    return path


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.browser_call_report = report  # read by the page fixture to keep a screenshot of a failure
    return report


@pytest.fixture(scope="session")
def live_server():
    """pytest-django's live server, bound to 127.0.0.1 (its default, ``localhost``, is a name chromium
    is not allowed to resolve here)."""
    from pytest_django.live_server_helper import LiveServer

    server = LiveServer(LOOPBACK)
    yield server
    server.stop()


@pytest.fixture
def page(live_server, monkeypatch, request):
    """A fresh chromium page (no cookies) whose requests may only go to the live server on loopback."""
    from playwright.sync_api import expect, sync_playwright

    executable = chromium_executable()
    expect.set_options(timeout=WAIT_MS)
    # Playwright's sync API keeps an asyncio loop running on this thread, which makes Django refuse ORM
    # calls from the test ("SynchronousOnlyOperation"). The test's ORM calls are plain synchronous code,
    # so allow them while the browser is up; the loop is gone once Playwright stops. While the loop runs,
    # Django also keeps this thread's connections apart from the usual ones (asgiref's Local follows the
    # loop's context), so they are closed below before Playwright stops, or they would outlive the test
    # (CONN_MAX_AGE) and keep pytest-django from dropping the test database.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    # The live server serves each keep-alive socket from its own thread, which may sit waiting for a
    # next request long after the page is gone: with persistent connections (CONN_MAX_AGE) its database
    # session would stay open too. Close them after each request, as CONN_MAX_AGE=0 does.
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    test_session = database_session_id()  # the test's usual connection, before Playwright's loop starts
    failure_screenshot = f"{request.node.name}-failure"
    (SCREENSHOTS / f"{failure_screenshot}.png").unlink(missing_ok=True)  # from an earlier run: misleading now
    off_loopback, page_errors = [], []

    def loopback_only(route):
        if urlsplit(route.request.url).hostname == LOOPBACK:
            route.continue_()
        else:
            off_loopback.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, timeout=WAIT_MS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
        context.set_default_timeout(WAIT_MS)
        context.route("**/*", loopback_only)
        page = context.new_page()
        page.on("pageerror", lambda error: page_errors.append(str(error)))
        try:
            yield page
        finally:
            report = getattr(request.node, "browser_call_report", None)
            if report is not None and report.failed:
                save_screenshot(page, failure_screenshot)
            context.close()
            browser.close()
            let_other_sessions_end(besides=test_session)
            connections.close_all()
    assert not off_loopback, f"the page tried to reach beyond {LOOPBACK}: {off_loopback}"
    assert not page_errors, f"uncaught JavaScript errors on the page: {page_errors}"


def database_session_id() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def let_other_sessions_end(*, besides: int, timeout: float = 10) -> None:
    """Give the live server's last requests and the stopped worker a moment to disconnect.

    Their PostgreSQL sessions end a little after the browser and the processes are gone; pytest-django
    cannot drop the test database while any is left (it warns "being accessed by other users").
    """
    from django.db import connection

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid NOT IN (pg_backend_pid(), %s)",
                [besides],
            )
            if cursor.fetchone()[0] == 0:
                return
        time.sleep(0.2)


@pytest.fixture
def engine(transactional_db, tmp_path):
    """A real worker and beat (fill sync every second), like `make run` starts them."""
    env = process_env(FILL_SYNC_SECONDS="1")
    logs = Engine(tmp_path / "worker.log", tmp_path / "beat.log")
    with ExitStack() as stack:
        stack.enter_context(running(worker_command(concurrency=2), logs.worker_log, env))
        stack.enter_context(running(beat_command(tmp_path), logs.beat_log, env))
        yield logs


@pytest.fixture
def ladder_above_market(trader):
    """The walkthrough trader with BTC/USDT at 101: an alert at 100 leaves all five legs resting."""
    from exchanges.paper.services import paper_price_set

    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=Decimal("101"))
    return trader
