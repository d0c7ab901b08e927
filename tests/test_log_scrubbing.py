"""No API key, request signature, bot token or webhook secret reaches a log line.

The exchange errors are ccxt's own: real ccxt HTX and Binance clients with keys sign real requests
to an exchange on 127.0.0.1 that answers 503, so the exceptions carry the signed URL exactly as they
would in production. They are logged the way reconciliation logs a failure (``logger.exception``
inside a chained ``raise … from exc``) by a process configured by the project's settings, and by a
real ``celery worker`` when a task fails.
"""

import logging
import os
import subprocess
import sys

import pytest

from tests.log_probe import BINANCE_API_KEY, HTX_ACCESS_KEY, ExchangeDown, leak_probe_task
from tests.processes import ROOT, process_env, running, wait_until, worker_command


def signed_values(exchange: ExchangeDown) -> set[str]:
    """The key and signature values the exchange received, as they stood in the URL (still encoded)."""
    values = set()
    for path in exchange.requests:
        for pair in path.partition("?")[2].split("&"):
            name, _, value = pair.partition("=")
            if name.lower() in ("accesskeyid", "signature") and value:
                values.add(value)
    return values


def assert_no_secret(text: str, exchange: ExchangeDown) -> None:
    sent = signed_values(exchange)
    assert len(sent) >= 3, f"expected HTX's key and signature and Binance's signature in {exchange.requests}"
    for secret in {HTX_ACCESS_KEY, BINANCE_API_KEY, *sent}:
        assert secret not in text, f"{secret!r} is in the log:\n{text}"
    assert "AccessKeyId=" not in text and "ignature=" not in text


def test_a_logged_traceback_keeps_the_exchange_and_path_but_not_the_key_or_signature(tmp_path):
    # Given an exchange that answers 503 to signed requests from ccxt's HTX and Binance clients
    with ExchangeDown() as exchange:
        # When a process with the project's settings logs each failure with its chained traceback
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "VAR_DIR": str(tmp_path)}
        result = subprocess.run(
            [sys.executable, "-m", "tests.log_probe", str(exchange.port)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    # Then the log holds neither HTX's access key nor any request signature...
    assert result.returncode == 0, result.stderr
    log = result.stderr
    assert_no_secret(log, exchange)
    # ...but still says what failed, where, and why, with the whole chain
    assert "ERROR trading.services.reconcile: reconciliation of account htx failed" in log
    assert "reconciliation of account binance failed" in log
    assert "ccxt.base.errors.ExchangeNotAvailable: htx GET" in log
    assert f"http://127.0.0.1:{exchange.port}/v1/account/accounts?***" in log
    assert f"http://127.0.0.1:{exchange.port}/api/v3/account?***" in log


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_logs_a_failed_task_without_the_key_or_signature(tmp_path):
    # Given a real worker, and an exchange that answers 503 to signed requests
    log = tmp_path / "worker.log"
    with ExchangeDown() as exchange, running(worker_command() + ["--include", "tests.log_probe"], log, process_env()):
        # When a task logs exchange failures through Celery's task logger, then fails with one chained
        leak_probe_task.delay(exchange.port)
        wait_until(lambda: "raised unexpected" in log.read_text(), timeout=90, what="the task to fail", log=log)

    # Then the worker's log holds no key and no signature, but names the failure and the endpoint
    text = log.read_text()
    assert_no_secret(text, exchange)
    assert "reconciliation of account htx failed" in text  # Celery's own task logger and handler
    assert "Task tests.log_probe.leak_probe_task" in text and "RuntimeError: balance sync failed" in text
    assert f"127.0.0.1:{exchange.port}/v1/account/accounts?***" in text


@pytest.mark.parametrize(
    ("logged", "kept", "hidden"),
    [
        # Telegram: the bot token is part of every Bot API URL, and of urllib3's error text about it.
        (
            "POST https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage failed",
            "https://api.telegram.org/bot***/sendMessage",
            "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
        ),
        (
            "Max retries exceeded with url: /bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage",
            "with url: /bot***/sendMessage",
            "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
        ),
        # Exchange request headers, as ccxt's verbose mode and dict reprs print them.
        (
            "{'X-MBX-APIKEY': 'vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A'}",
            "'X-MBX-APIKEY': '***'",
            "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
        ),
        ("X-BAPI-API-KEY: XXXXXXXXXXbybitkey\nX-BAPI-SIGN: 5f1e2d", "X-BAPI-API-KEY: ***", "XXXXXXXXXXbybitkey"),
        ("OK-ACCESS-PASSPHRASE: my pass", "OK-ACCESS-PASSPHRASE: ***", "my"),
        ("params {'apiKey': 'k-123', 'api_key': 'k-456'}", "'api_key': '***'", "k-123"),
        # The webhook secret, in a TradingView body.
        (
            'body {"user_id": "6f1c", "secret": "Zq8w_webhook_secret_value", "tv": {}}',
            '"secret": "***"',
            "Zq8w_webhook_secret_value",
        ),
        ("rotated webhook_secret='Zq8w_old_secret_value' for trader7", "webhook_secret='***'", "Zq8w_old_secret_value"),
        # A password in a connection URL.
        ("Error connecting to redis://:hunter2@10.1.2.3:6379/0", "redis://:***@10.1.2.3:6379/0", "hunter2"),
    ],
)
def test_the_filter_masks_credentials_wherever_they_stand(logged, kept, hidden):
    from config.log_filters import ScrubSecrets

    record = logging.LogRecord("engine", logging.ERROR, __file__, 1, "%s", (logged,), None)

    ScrubSecrets().filter(record)

    assert kept in record.getMessage()
    assert hidden not in record.getMessage()


def test_ordinary_engine_lines_are_left_alone():
    from config.log_filters import ScrubSecrets

    line = (
        "signal 41 routed: opened BTC/USDT long 15m (signal_id=41, design=per_leg) GET /api/v1/positions/?status=open"
    )
    record = logging.LogRecord("engine", logging.INFO, __file__, 1, line, None, None)

    ScrubSecrets().filter(record)

    assert record.getMessage() == line
