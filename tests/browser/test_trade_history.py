"""The trade history in chromium: filter the closed trades, download the CSV, and find in it exactly what the
API says about the same trades."""

import csv
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.helpers import log_in, save_screenshot
from tests.factories import ExchangeAccountFactory, PositionGroupFactory, UserFactory
from trading.views import TRADES_PER_PAGE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
D = Decimal
SHORTS = TRADES_PER_PAGE + 3  # one more page than the table shows


def closed_trade(user, account, **fields):
    values = {
        "status": "closed",
        "exchange": account.exchange_id,
        "exit_reason": "take_profit",
        "realized_pnl_usd": D("12.5"),
        "fees_usd": D("0.75"),
    }
    values.update(fields)
    return PositionGroupFactory(user=user, exchange_account=account, **values)


@pytest.fixture
def history(trader):
    """The trader's closed shorts on two accounts (and a month of other trades), plus a stranger's."""
    binance = trader.exchange_accounts.get()
    bybit = ExchangeAccountFactory(user=trader, exchange_id="bybit", label="Bybit swap")
    now = timezone.now()
    shorts = [
        closed_trade(
            trader,
            binance if n % 2 else bybit,
            side="short",
            symbol="ETH/USDT" if n % 3 else "ETH/BTC",
            closed_at=now - timedelta(hours=n),
            realized_pnl_usd=D(n - 20) / 4,
            fees_usd=D(n) / 100,
            quote_usd_rate=D("1") if n % 3 else D("61234.5"),
            exit_reason="take_profit" if n % 5 else "stop_loss",
        )
        for n in range(SHORTS)
    ]
    for day in range(20):
        closed_trade(
            trader, binance, side="long", closed_at=now - timedelta(days=day), realized_pnl_usd=D(day * 3 - 25)
        )
    stranger = UserFactory()
    closed_trade(stranger, ExchangeAccountFactory(user=stranger), side="short", symbol="DOGE/USDT", closed_at=now)
    return shorts


def api_rows(page, live_server, query: str) -> list[dict]:
    """Every page of the API's answer, read with the browser's own session."""
    url, rows = f"{live_server.url}/api/v1/positions/?{query}", []
    while url:
        response = page.request.get(url)
        assert response.ok, response.text()
        body = response.json()
        rows += body["results"]
        url = body["next"]
    return rows


def test_the_downloaded_csv_holds_the_filtered_trades_as_the_api_reports_them(
    page, live_server, trader, history, tmp_path
):
    # Given a trader with closed longs and shorts, on the overview
    log_in(page, live_server, trader)

    # When they follow the overview's link to the history and keep only the shorts
    page.get_by_role("link", name="All closed trades").click()
    expect(page.get_by_role("heading", name="Closed trades")).to_be_visible()
    expect(page.locator("figure.pnl-chart svg polyline.cumulative")).to_have_count(1)
    page.get_by_label("Side").select_option("short")
    page.get_by_role("button", name="Filter").click()

    # Then the table shows one screenful of shorts, and the totals count all of them
    expect(page.locator("#trade-totals")).to_contain_text(str(SHORTS))
    expect(page.locator("#trades tbody tr")).to_have_count(TRADES_PER_PAGE)
    expect(page.locator("#trades tbody")).not_to_contain_text("long")
    expect(page.locator("#trades")).not_to_contain_text("DOGE/USDT")
    save_screenshot(page, "7-trade-history")

    # When they download the CSV
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    download = download_info.value
    assert download.suggested_filename.startswith("closed-trades-") and download.suggested_filename.endswith(".csv")
    path = tmp_path / "trades.csv"
    download.save_as(path)
    with path.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))

    # Then it has every short (all pages, newest close first), each as the API reports it
    assert len(rows) == SHORTS
    assert [row["position_id"] for row in rows] == [str(group.pk) for group in history]
    api = {group["id"]: group for group in api_rows(page, live_server, "status=closed&side=short")}
    assert set(api) == {row["position_id"] for row in rows}
    for row in rows:
        group = api[row["position_id"]]
        assert (row["symbol"], row["side"], row["exchange"], row["exit_reason"], row["quote_currency"]) == (
            group["symbol"],
            group["side"],
            group["exchange"],
            group["exit_reason"],
            group["quote_currency"],
        )
        assert int(row["timeframe_minutes"]) == group["timeframe"]
        assert D(row["realized_pnl"]) == D(group["realized_pnl_usd"])
        assert D(row["fees"]) == D(group["fees_usd"])
        assert D(row["realized_pnl_usd"]) == D(group["realized_pnl_usd"]) * D(group["quote_usd_rate"])
        assert datetime.fromisoformat(row["closed_at"]) == datetime.fromisoformat(group["closed_at"])
        assert datetime.fromisoformat(row["opened_at"]) == datetime.fromisoformat(group["created_at"])
        account = trader.exchange_accounts.get(pk=group["exchange_account"])
        assert row["account"] == (account.label or str(account))
