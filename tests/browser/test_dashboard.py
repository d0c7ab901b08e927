"""What a trader sees in the dashboard, in chromium: login, live positions, fills, risk block, secret rotation,
a connection test that runs in the background.

The live parts are htmx fragments polled every 5 s: the tests tag the loaded document and check the
tag is still there after the update, so what they saw arrived without a reload.
"""

import json
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from jobs.models import Job
from jobs.services import job_run
from tests.browser.helpers import (
    log_in,
    mark_document,
    open_position,
    post_alert,
    save_screenshot,
    still_same_document,
    tradingview_alert,
)
from tests.processes import wait_until
from trading.models import PositionGroup, Signal, User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_trader_logs_in_and_sees_the_empty_overview(page, live_server, trader):
    # Given a trader with no position yet
    # When they open the dashboard, are sent to the login form and log in
    log_in(page, live_server, trader)

    # Then the overview greets them with the engine running, an empty pool and their webhook URL
    assert page.url == f"{live_server.url}/"
    expect(page.get_by_role("button", name=f"Log out {trader.username}")).to_be_visible()
    expect(page.locator("#engine-state")).to_contain_text("running")
    expect(page.locator("#pool")).to_contain_text("Open positions")
    expect(page.locator("#positions")).to_contain_text("No positions yet.")
    expect(page.get_by_text(f"/webhooks/{trader.id}/tradingview")).to_be_visible()
    save_screenshot(page, "1-login-overview")


@pytest.mark.e2e
def test_position_from_a_webhook_appears_on_the_open_overview(page, live_server, ladder_above_market, engine):
    trader = ladder_above_market
    # Given the trader looking at their empty overview
    log_in(page, live_server, trader)
    expect(page.locator("#positions")).to_contain_text("No positions yet.")
    expect(page.locator("#pool")).to_contain_text("0 /")
    mark_document(page)

    # When TradingView sends a long entry for BTC/USDT 15m
    response = post_alert(live_server, trader, tradingview_alert(trader))
    assert response.status_code == 202, response.text

    # Then, without reloading, the position shows up: symbol, side, timeframe, live, no leg filled yet
    row = page.locator("#positions tbody tr").filter(has=page.get_by_role("link", name="BTC/USDT"))
    expect(row).to_have_count(1)
    expect(row).to_contain_text("long")
    expect(row).to_contain_text("15m")
    expect(row.locator(".badge")).to_have_text("Live")
    expect(row).to_contain_text("0/5")
    expect(page.locator("#pool")).to_contain_text("1 /")
    expect(page.locator("#positions")).not_to_contain_text("No positions yet.")
    assert still_same_document(page), "the overview was reloaded: the position should arrive by htmx polling"
    assert PositionGroup.objects.get(user=trader).status == "live"
    save_screenshot(page, "2-webhook-position-live")


@pytest.mark.e2e
def test_filled_legs_show_on_the_open_position_page(page, live_server, ladder_above_market, engine):
    trader = ladder_above_market
    # Given a BTC/USDT long with its five legs resting at 100, 99.5, 99, 98.5 and 98
    group = open_position(live_server, trader, engine)
    log_in(page, live_server, trader)
    page.locator("#positions").get_by_role("link", name="BTC/USDT").click()
    expect(page).to_have_url(f"{live_server.url}/positions/{group.pk}/")
    live = page.locator("#position-live")
    legs = live.locator("tbody tr")
    expect(legs).to_have_count(5)
    expect(legs.nth(0).locator(".badge")).to_have_text("Open")
    expect(live.locator(".stat").filter(has_text="Legs filled")).to_contain_text("0/5")
    mark_document(page)

    # When the price drops to 99.2 on the paper exchange (legs 1 and 2 fill there)
    call_command("paper", "price", "binance", "BTC/USDT", "99.2")

    # Then, without reloading, the page shows two legs filled at their prices (take-profits placed at +2 %)
    # and the rest still resting
    expect(live.locator(".stat").filter(has_text="Legs filled")).to_contain_text("2/5")
    # Leg, Price, Quantity, Status, Filled, Fill price: the whole quantity at the leg's limit price; then its
    # take-profit: price · status · sold of its quantity
    expect(legs.nth(0).locator("td")).to_have_text(["1", "100", "2", "Filled", "2", "100", "102 · open · 0 of 2"])
    expect(legs.nth(1).locator("td")).to_have_text(
        ["2", "99.5", "2.01", "Filled", "2.01", "99.5", "101.49 · open · 0 of 2.01"]
    )
    for resting in (2, 3, 4):
        expect(legs.nth(resting).locator(".badge")).to_have_text("Open")
    expect(live.locator(".stat").filter(has_text="Status")).to_contain_text("Partially filled")
    expect(live.get_by_role("cell", name="Pyramid 1 leg 1 filled")).to_be_visible()
    expect(live.get_by_role("cell", name="Pyramid 1 leg 2 filled")).to_be_visible()
    assert still_same_document(page), "the position page was reloaded: fills should arrive by htmx polling"
    save_screenshot(page, "3-legs-filled")


@pytest.mark.e2e
def test_trader_blocks_a_position_on_the_risk_page(page, live_server, ladder_above_market, engine):
    trader = ladder_above_market
    # Given an open BTC/USDT long, not blocked
    group = open_position(live_server, trader, engine)
    log_in(page, live_server, trader)
    page.get_by_role("navigation").get_by_role("link", name="Risk", exact=True).click()
    expect(page.get_by_role("heading", name="Risk", exact=True)).to_be_visible()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="long BTC/USDT 15m"))
    expect(row).to_have_count(1)
    expect(row.get_by_text("blocked", exact=True)).to_have_count(0)

    # When they press Block on that position
    row.get_by_role("button", name="Block", exact=True).click()

    # Then the risk page confirms it, shows it blocked with an Unblock button, and the action is recorded
    expect(page.locator(".messages")).to_contain_text("long BTC/USDT 15m blocked: it will not be closed as the loser")
    expect(row.get_by_text("blocked", exact=True)).to_be_visible()
    expect(row.get_by_role("button", name="Unblock", exact=True)).to_be_visible()
    expect(row.get_by_role("button", name="Block", exact=True)).to_have_count(0)
    actions = page.get_by_role("row").filter(has_text="Blocked from risk")
    expect(actions).to_have_count(1)
    expect(actions).to_contain_text("BTC/USDT")
    group.refresh_from_db()
    assert group.risk_blocked is True
    save_screenshot(page, "4-risk-blocked")

    # And the overview shows the position blocked too
    page.get_by_role("navigation").get_by_role("link", name="Overview", exact=True).click()
    overview_row = page.locator("#positions tbody tr").filter(has=page.get_by_role("link", name="BTC/USDT"))
    expect(overview_row.get_by_text("blocked", exact=True)).to_be_visible()


@pytest.mark.e2e
def test_rotating_the_webhook_secret_shows_the_new_one_and_refuses_the_old(page, live_server, trader, engine):
    # Given the trader on the settings page, the alert message carrying their current secret
    old_secret = trader.webhook_secret
    log_in(page, live_server, trader)
    page.get_by_role("navigation").get_by_role("link", name="Settings", exact=True).click()
    alert_message = page.locator("#alert-template")
    expect(alert_message).to_contain_text(old_secret)
    webhook_url = page.locator("#webhook-url")
    expect(webhook_url).to_have_value(re.compile(rf"/webhooks/{trader.id}/tradingview$"))

    # When they rotate the secret
    page.get_by_role("button", name="Rotate webhook secret").click()

    # Then the page says so and the alert message to paste carries the new secret, not the old one
    expect(page.locator(".messages")).to_contain_text("New webhook secret")
    new_secret = User.objects.get(pk=trader.pk).webhook_secret
    assert new_secret and new_secret != old_secret
    expect(alert_message).to_contain_text(new_secret)
    expect(alert_message).not_to_contain_text(old_secret)
    expect(webhook_url).to_have_value(re.compile(rf"/webhooks/{trader.id}/tradingview$"))
    save_screenshot(page, "5-secret-rotated")

    # And TradingView alerts with the old secret are refused, while the message copied from the page works
    refused = post_alert(live_server, trader, tradingview_alert(trader, secret=old_secret, trade_id="old"))
    assert refused.status_code == 403, refused.text
    shown = json.loads(alert_message.text_content())
    assert (shown["user_id"], shown["secret"]) == (str(trader.id), new_secret)
    accepted = post_alert(live_server, trader, tradingview_alert(trader, secret=shown["secret"], trade_id="new"))
    assert accepted.status_code == 202, accepted.text
    signal = wait_until(
        lambda: Signal.objects.filter(pk=accepted.json()["signal_id"], status="opened").first(),
        timeout=60,
        what="the worker to open a position from the new-secret alert",
        log=engine.worker_log,
    )
    assert signal.position_group.symbol == "BTC/USDT"
    assert Signal.objects.filter(user=trader, status="rejected").count() == 1  # the old-secret alert, kept to be seen


def test_test_connection_answers_at_once_then_shows_the_balance_without_a_reload(page, live_server, trader):
    # Given the trader on their exchange account's page, and no worker free to run anything yet
    account = trader.exchange_accounts.get()
    log_in(page, live_server, trader)
    page.goto(f"{live_server.url}/settings/exchange-accounts/{account.pk}/")

    # When they click Test connection
    page.get_by_role("button", name="Test connection").click()

    # Then the page comes back at once and says the test waits for a worker
    job_box = page.locator(".job")
    expect(job_box).to_contain_text("Test connection: binance (paper)")
    expect(job_box).to_contain_text("waiting for a worker")
    mark_document(page)

    # When a worker runs it (the worker's own service, called here so the order of events is certain)
    job_run(job_id=Job.objects.get(user=trader).pk)

    # Then the outcome replaces the waiting line by htmx polling, without a reload
    expect(job_box).to_contain_text("binance (paper): connected; balance 100000 USDT.")
    assert still_same_document(page), "the page was reloaded: the outcome should arrive by htmx polling"
    save_screenshot(page, "6-test-connection")
