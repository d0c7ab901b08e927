"""What the browser tests do as a trader: log in, keep screenshots, send TradingView alerts."""

import json
from dataclasses import dataclass
from pathlib import Path

import requests

from exchanges.models import PaperOrder
from tests.alert_bodies import sent_alert
from tests.processes import ROOT, wait_until
from trading.models import PositionGroup

SCREENSHOTS = ROOT / "var" / "test-artifacts" / "screenshots"
PASSWORD = "correct-horse-battery"  # tests.factories.UserFactory's default


def save_screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def log_in(page, live_server, user, password: str = PASSWORD) -> None:
    """Open the dashboard as a stranger, get sent to the login form, fill it in, land on the overview."""
    from playwright.sync_api import expect  # imported late: without playwright only the browser tests fail

    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def mark_document(page) -> None:
    """Tag the loaded document; ``still_same_document`` tells whether the page was reloaded since."""
    page.evaluate("window.__loadedOnce = true")


def still_same_document(page) -> bool:
    return page.evaluate("window.__loadedOnce === true")


@dataclass
class Engine:
    """The Celery worker and beat running against the test database; their logs for failure messages."""

    worker_log: Path
    beat_log: Path


def tradingview_alert(user, *, secret: str | None = None, trade_id: str = "1") -> dict:
    """A long entry for BTC/USDT 15m at 100, as TradingView sends it (tests/e2e/test_signal_flow.py)."""
    return sent_alert(
        user,
        secret=secret or user.webhook_secret,
        tv={"symbol": "BINANCE:BTCUSDT", "entry_price": "100", "close_price": "100"},
        strategy_info={"trade_id": trade_id, "alert_name": "browser", "alert_message": ""},
    )


def post_alert(live_server, user, body: dict) -> requests.Response:
    """POST the alert to the live server's webhook as TradingView does (text/plain), never via a proxy."""
    with requests.Session() as session:
        session.trust_env = False  # no HTTP(S)_PROXY from the environment: loopback only
        return session.post(
            f"{live_server.url}/webhooks/{user.id}/tradingview",
            data=json.dumps(body),
            headers={"Content-Type": "text/plain"},
            timeout=30,
        )


def open_position(live_server, user, engine: Engine):
    """Send the alert and wait until the worker has the five-leg grid resting on the paper exchange."""
    response = post_alert(live_server, user, tradingview_alert(user))
    assert response.status_code == 202, response.text
    wait_until(
        lambda: PaperOrder.objects.filter(status="open").count() == 5,
        timeout=60,
        what="five resting limit orders on the paper exchange",
        log=engine.worker_log,
    )
    return wait_until(
        lambda: PositionGroup.objects.filter(user=user, status="live").first(),
        timeout=60,
        what="the position to go live",
        log=engine.worker_log,
    )
