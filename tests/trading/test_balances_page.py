"""The overview's balances and equity: what a worker last read, with its age; Refresh runs in the background."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from exchanges.models import AccountBalance
from jobs.models import Job
from jobs.services import job_run
from tests.factories import ExchangeAccountFactory, UserFactory

pytestmark = pytest.mark.django_db
D = Decimal
HTMX = {"HTTP_HX_REQUEST": "true"}


def balances_html(response) -> str:
    assert response.status_code == 200
    page = response.content.decode()
    return page[page.index('<section id="balances"') :].split("</section>")[0]


def test_overview_shows_each_accounts_equity_holdings_and_age(trader_client, trader):
    account = trader.exchange_accounts.get()
    AccountBalance.objects.create(
        account=account,
        equity_usd=D("10650.5"),
        fetched_at=timezone.now() - timedelta(minutes=3),
        holdings=[
            {"asset": "USDT", "free": "9000", "used": "1000", "usd_price": "1", "usd_value": "10000"},
            {"asset": "BTC", "free": "0.01", "used": "0", "usd_price": "65050", "usd_value": "650.5"},
            {"asset": "XYZ", "free": "3", "used": "0", "usd_price": None, "usd_value": None},
        ],
        unpriced_assets=["XYZ"],
    )
    never_read = ExchangeAccountFactory(user=trader, exchange_id="bybit", label="Bybit main")

    section = balances_html(trader_client.get(reverse("overview")))

    assert "10,650.50 USD" in section
    assert "10,000.00 USDT" in section and "(1,000.00 USDT in orders)" in section
    assert "0.01 BTC" in section and "≈ 650.50 USD" in section
    assert "Not counted in the equity (no USD price on binance): XYZ" in section
    assert "3 min ago" in section
    row = section.split(f'data-account="{never_read.pk}"')[1].split("</tr>")[0]
    assert "Bybit main" in row and "never" in row and "Refresh</button>" in row


def test_refresh_answers_at_once_with_the_fragment_polling_until_a_worker_has_read_the_balance(trader_client, trader):
    account = trader.exchange_accounts.get()

    # When the trader clicks Refresh (htmx)
    response = trader_client.post(reverse("balance-refresh", args=[account.pk]), **HTMX)

    # Then the fragment comes back at once, says it is refreshing and polls every second; nothing was read yet
    section = balances_html(response)
    assert "refreshing…" in section and 'hx-trigger="every 1s"' in section
    assert not AccountBalance.objects.filter(account=account).exists()
    job = Job.objects.get(user=trader, kind="exchange_balance_refresh")
    assert job.subject_id == str(account.pk)

    # When a worker runs it, the next poll shows the equity, and polling slows down again
    job_run(job_id=job.pk)
    section = balances_html(trader_client.get(reverse("partial-balances")))
    assert "100,000.00 USD" in section and "100,000.00 USDT" in section
    assert "refreshing…" not in section and 'hx-trigger="every 15s"' in section
    job.refresh_from_db()
    assert (job.status, job.message) == ("succeeded", "binance (paper): equity 100,000.00 USD.")


def test_refresh_without_javascript_returns_to_the_overview_with_the_jobs_line(trader_client, trader):
    account = trader.exchange_accounts.get()

    response = trader_client.post(reverse("balance-refresh", args=[account.pk]))

    job = Job.objects.get(user=trader, kind="exchange_balance_refresh")
    assert response.status_code == 302 and response.url == f"/?job={job.pk}"
    assert "Refresh balance: binance (paper)" in trader_client.get(response.url).content.decode()


def test_a_failed_refresh_shows_the_last_figures_and_the_error(trader_client, trader):
    AccountBalance.objects.create(
        account=trader.exchange_accounts.get(),
        equity_usd=D("5"),
        fetched_at=timezone.now() - timedelta(hours=2),
        holdings=[],
        error="binance is unavailable (HTTP 503)",
        error_at=timezone.now(),
    )

    section = balances_html(trader_client.get(reverse("overview")))

    assert "5.00 USD" in section and "2 h 00 min ago" in section
    assert "failed: binance is unavailable (HTTP 503)" in section


def test_another_traders_account_is_neither_shown_nor_refreshed(trader_client, trader):
    stranger = UserFactory()
    theirs = ExchangeAccountFactory(user=stranger, exchange_id="kraken")
    AccountBalance.objects.create(account=theirs, equity_usd=D("777777"), fetched_at=timezone.now())

    page = trader_client.get(reverse("overview")).content.decode()
    refused = trader_client.post(reverse("balance-refresh", args=[theirs.pk]), **HTMX)

    assert "kraken" not in page and "777,777" not in page
    assert refused.status_code == 404
    assert not Job.objects.filter(kind="exchange_balance_refresh").exists()


def test_balances_need_a_login_and_refresh_is_a_post(trader_client, trader):
    assert Client().get(reverse("partial-balances")).url.startswith("/accounts/login/")
    account = trader.exchange_accounts.get()
    assert trader_client.get(reverse("balance-refresh", args=[account.pk])).status_code == 405


def test_the_balances_never_read_the_accounts_keys(trader_client, trader):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ExchangeAccountFactory(user=trader, exchange_id="bybit", mode="live", api_key="k", api_secret="s")

    with CaptureQueriesContext(connection) as captured:
        balances_html(trader_client.get(reverse("partial-balances"), **HTMX))

    assert not [query["sql"] for query in captured if '"api_secret"' in query["sql"]]
