"""Real ccxt errors whose text carries a signed request URL, for the log-scrubbing tests.

An exchange on 127.0.0.1 (``ExchangeDown``) answers every request ``503`` with an HTML page, as an
exchange behind a failing load balancer does; ccxt then raises ``ExchangeNotAvailable("htx GET
http://…/v1/account/accounts?AccessKeyId=<key>&…&Signature=<sig> 503 …")``. The exchange keeps
each request line it received, so a test knows the exact key and signature to look for.

``python -m tests.log_probe <port>`` logs such errors through the project's own logging (Django
settings, as a web process has them); the worker test runs ``leak_probe_task`` in a real
``celery worker`` started with ``--include tests.log_probe``.
"""

import http.server
import logging
import sys
import threading

import ccxt
from celery import shared_task
from celery.utils.log import get_task_logger

HTX_ACCESS_KEY = "htx-access-key-7f3a9c1e"
BINANCE_API_KEY = "binance-api-key-52be0d44"
FAKE_SECRET = "not-a-real-secret"


class ExchangeDown:
    """An HTTP server on 127.0.0.1 answering 503 to everything; ``requests`` holds what it was sent."""

    def __init__(self):
        outer = self
        self.requests: list[str] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802  (http.server's name)
                outer.requests.append(self.path)
                body = b"<html><body>503 Service Temporarily Unavailable</body></html>"
                self.send_response(503)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def htx(port: int) -> ccxt.htx:
    """ccxt's HTX client with a (fake) key, talking to 127.0.0.1:``port`` over plain HTTP."""
    client = ccxt.htx(
        {"apiKey": HTX_ACCESS_KEY, "secret": FAKE_SECRET, "hostname": f"127.0.0.1:{port}", "timeout": 5000}
    )
    client.urls["api"] = {name: url.replace("https://", "http://") for name, url in client.urls["api"].items()}
    return client


def binance(port: int) -> ccxt.binance:
    client = ccxt.binance({"apiKey": BINANCE_API_KEY, "secret": FAKE_SECRET, "timeout": 5000})

    def local(urls: dict) -> None:
        for name, url in urls.items():
            if isinstance(url, dict):
                local(url)
            elif isinstance(url, str):
                urls[name] = url.replace("https://api.binance.com", f"http://127.0.0.1:{port}")

    local(client.urls["api"])
    return client


def signed_calls(port: int):
    """Each signed call the probes make: (exchange, the call)."""
    return [("htx", htx(port).private_get_account_accounts), ("binance", binance(port).private_get_account)]


def log_failures(port: int, logger: logging.Logger) -> None:
    """What reconciliation does when an exchange fails: log the chained error with its traceback."""
    for exchange, call in signed_calls(port):
        try:
            try:
                call()
            except ccxt.BaseError as exc:
                raise RuntimeError(f"reconciliation of the {exchange} account failed") from exc
        except RuntimeError:
            logger.exception("reconciliation of account %s failed", exchange)


@shared_task
def leak_probe_task(port: int) -> None:
    """Logs through Celery's task logger, then fails with a chained ccxt error, which the worker
    logs ("Task … raised unexpected") with its traceback."""
    log_failures(port, get_task_logger(__name__))
    try:
        htx(port).private_get_account_accounts()
    except ccxt.BaseError as exc:
        raise RuntimeError("balance sync failed") from exc


if __name__ == "__main__":
    import django

    django.setup()  # the project's LOGGING, as every process has it
    log_failures(int(sys.argv[1]), logging.getLogger("trading.services.reconcile"))
