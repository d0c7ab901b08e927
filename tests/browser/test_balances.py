"""Balances and equity on the overview, in chromium: Refresh answers at once, the figures arrive by htmx."""

import pytest
from playwright.sync_api import expect

from jobs.models import Job
from jobs.services import job_run
from tests.browser.helpers import log_in, mark_document, save_screenshot, still_same_document

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_refresh_shows_refreshing_then_the_equity_without_a_reload(page, live_server, trader):
    # Given the trader on the overview, their paper account never read, and no worker free yet
    log_in(page, live_server, trader)
    balances = page.locator("#balances")
    row = balances.locator("tbody tr").filter(has_text="binance")
    expect(row.locator("td.age")).to_have_text("never")
    mark_document(page)

    # When they click Refresh
    row.get_by_role("button", name="Refresh").click()

    # Then the row says it is refreshing, in place
    expect(row).to_contain_text("refreshing…")

    # When a worker reads the balance (the worker's own service, called here so the order is certain)
    job_run(job_id=Job.objects.get(user=trader, kind="exchange_balance_refresh").pk)

    # Then the equity and the holdings replace it by polling, with their age
    expect(row.locator("td.equity")).to_have_text("100,000.00 USD")
    expect(row.locator("td.holdings")).to_contain_text("100,000.00 USDT")
    expect(row.locator("td.age")).to_contain_text("s ago")
    expect(row.get_by_role("button", name="Refresh")).to_be_visible()
    assert still_same_document(page), "the overview was reloaded: the balance should arrive by htmx"
    save_screenshot(page, "8-balances")
