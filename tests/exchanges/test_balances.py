"""Balances and equity per exchange account: read by a worker, stored with their age, refreshed on the beat."""

from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

from exchanges.models import AccountBalance, PaperBalance, PaperOrder
from exchanges.services.balances import account_balance_refresh, balances_refresh_due
from tests.factories import ExchangeAccountFactory, UserFactory

pytestmark = pytest.mark.django_db
D = Decimal


def test_equity_of_a_paper_account_is_its_start_plus_what_its_filled_legs_gained_at_the_current_price(route, trader):
    # Given 100,000 USDT, no fees, and a BTC/USDT long whose first three legs (100, 99.5, 99) filled at 99
    account = trader.exchange_accounts.get()
    route()
    call_command("paper", "price", "binance", "BTC/USDT", "99")
    filled = PaperOrder.objects.filter(account=account, filled__gt=0)  # what the exchange filled
    assert filled.count() == 3
    call_command("paper", "price", "binance", "BTC/USDT", "101.5")  # then the market rises (no take-profit yet)

    # When a worker refreshes the account's balance
    snapshot = account_balance_refresh(account=account)

    # Then equity = the starting balance + each fill's quantity × (current price − its price)
    gained = sum(order.filled * (D("101.5") - order.average) for order in filled)
    assert gained > 0
    assert snapshot.equity_usd == D("100000") + gained
    holdings = {item["asset"]: item for item in snapshot.holdings}
    btc = sum(order.filled for order in filled)
    assert D(holdings["BTC"]["free"]) + D(holdings["BTC"]["used"]) == btc
    assert (D(holdings["BTC"]["usd_price"]), D(holdings["BTC"]["usd_value"])) == (D("101.5"), btc * D("101.5"))
    # the two resting legs still reserve their USDT: counted, as "used"
    resting = PaperOrder.objects.filter(account=account, status="open")
    assert resting.count() == 2 and D(holdings["USDT"]["used"]) == sum(o.amount * o.price for o in resting)
    assert snapshot.fetched_at is not None and snapshot.error == "" and snapshot.unpriced_assets == []


def test_an_asset_without_a_usdt_market_is_shown_but_left_out_of_the_equity(trader):
    account = trader.exchange_accounts.get()
    PaperBalance.objects.create(account=account, asset="XYZ", free=D("5"))

    snapshot = account_balance_refresh(account=account)

    assert snapshot.equity_usd == D("100000")
    assert snapshot.unpriced_assets == ["XYZ"]
    assert {item["asset"] for item in snapshot.holdings} == {"USDT", "XYZ"}


def test_a_failed_refresh_keeps_the_last_figures_and_says_why(network_tap):
    # Given a live account whose balance was read an hour ago, and an exchange out of reach now
    account = ExchangeAccountFactory(mode="live", api_key="made-up-key", api_secret="made-up-secret")
    account_balance_read_earlier = AccountBalance.objects.create(
        account=account,
        equity_usd=D("1234.5"),
        holdings=[{"asset": "USDT", "free": "1234.5", "used": "0", "usd_price": "1", "usd_value": "1234.5"}],
    )
    fetched_at = account_balance_read_earlier.fetched_at

    snapshot = account_balance_refresh(account=account)

    assert network_tap  # it did try the exchange (which the tests never reach)
    assert snapshot.equity_usd == D("1234.5") and snapshot.fetched_at == fetched_at
    assert snapshot.error and snapshot.error_at is not None
    assert "made-up" not in snapshot.error


def test_the_beat_refreshes_every_enabled_account_in_its_own_task(trader, eager_celery):
    enabled = trader.exchange_accounts.get()
    other = ExchangeAccountFactory(user=UserFactory(), exchange_id="binance", starting_balance=D("500"))
    disabled = ExchangeAccountFactory(user=UserFactory(), is_enabled=False)

    assert balances_refresh_due() == 2

    assert AccountBalance.objects.get(account=enabled).equity_usd == D("100000")
    assert AccountBalance.objects.get(account=other).equity_usd == D("500")
    assert not AccountBalance.objects.filter(account=disabled).exists()


def test_the_beat_refreshes_balances_every_five_minutes_by_default():
    entry = django_settings.CELERY_BEAT_SCHEDULE["refresh-balances"]

    assert django_settings.BALANCE_REFRESH_SECONDS == 300
    assert entry["task"] == "exchanges.tasks.balances_refresh_task"
    assert entry["schedule"].run_every.total_seconds() == 300


def test_a_starting_worker_fills_the_balances_at_once_unless_refreshes_are_off(trader, eager_celery, settings):
    from exchanges.tasks import refresh_balances_when_a_worker_starts

    settings.BALANCE_REFRESH_SECONDS = 0
    refresh_balances_when_a_worker_starts()
    assert not AccountBalance.objects.exists()

    settings.BALANCE_REFRESH_SECONDS = 300
    refresh_balances_when_a_worker_starts()
    assert AccountBalance.objects.get(account__user=trader).equity_usd == D("100000")
