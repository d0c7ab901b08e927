"""Exchange accounts and the paper exchange over the API: keys write-only, everything owner-scoped."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from exchanges.models import ExchangeAccount, PaperAccountPrice, PaperPrice
from tests.api_client import client_for
from tests.factories import ExchangeAccountFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(user):
    return client_for(user)


def test_keys_are_accepted_but_never_returned(api, user):
    created = api.post(
        "/api/v1/exchange-accounts/",
        {"exchange_id": "Bybit", "mode": "testnet", "api_key": "k-123", "api_secret": "s-456"},
        format="json",
    )

    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["exchange_id"] == "bybit" and body["has_keys"] is True
    assert "api_key" not in body and "api_secret" not in body and "k-123" not in str(body)
    assert ExchangeAccount.objects.get(user=user).api_secret == "s-456"


def test_live_account_without_keys_is_refused_and_nothing_is_created(api):
    response = api.post("/api/v1/exchange-accounts/", {"exchange_id": "binance", "mode": "live"}, format="json")

    assert response.status_code == 400
    assert "needs an API key and secret" in str(response.json())
    assert not ExchangeAccount.objects.exists()


def test_editing_without_keys_keeps_the_stored_keys(api, user):
    account = ExchangeAccountFactory(user=user, mode="live", api_key="k", api_secret="s")

    response = api.patch(f"/api/v1/exchange-accounts/{account.pk}/", {"label": "main"}, format="json")

    assert response.status_code == 200
    account.refresh_from_db()
    assert (account.label, account.api_key, account.api_secret) == ("main", "k", "s")


def test_a_second_account_for_the_same_exchange_and_market_type_is_refused(api, user):
    ExchangeAccountFactory(user=user)
    response = api.post("/api/v1/exchange-accounts/", {"exchange_id": "binance", "mode": "paper"}, format="json")
    assert response.status_code == 400
    assert "already have a binance spot account" in str(response.json()["market_type"])


def test_a_swap_account_beside_the_spot_account_on_one_exchange(api, user):
    spot = ExchangeAccountFactory(user=user, label="main")

    response = api.post(
        "/api/v1/exchange-accounts/",
        {"exchange_id": "Binance", "market_type": "swap", "label": "perp", "mode": "paper"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    assert (response.json()["market_type"], response.json()["label"]) == ("swap", "perp")
    listed = api.get("/api/v1/exchange-accounts/").json()["results"]
    assert [(row["id"], row["exchange_id"], row["market_type"]) for row in listed] == [
        (spot.pk, "binance", "spot"),
        (response.json()["id"], "binance", "swap"),
    ]


def test_a_label_names_one_account(api, user):
    ExchangeAccountFactory(user=user, exchange_id="bybit", label="main")

    response = api.post(
        "/api/v1/exchange-accounts/", {"exchange_id": "binance", "label": " main ", "mode": "paper"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["label"] == ["You already have an account with this label: a label names one account."]


def test_an_accounts_market_type_is_fixed_once_it_exists(api, user):
    account = ExchangeAccountFactory(user=user)

    response = api.patch(f"/api/v1/exchange-accounts/{account.pk}/", {"market_type": "swap"}, format="json")

    assert response.status_code == 400 and "Fixed once the account exists" in str(response.json()["market_type"])
    account.refresh_from_db()
    assert account.market_type == "spot"


def test_another_users_account_is_invisible(api):
    other = ExchangeAccountFactory(user=UserFactory())
    assert api.get(f"/api/v1/exchange-accounts/{other.pk}/").status_code == 404
    assert api.get("/api/v1/exchange-accounts/").json()["count"] == 0


def test_test_connection_reports_the_paper_balance(api, user, eager_celery, django_capture_on_commit_callbacks):
    account = ExchangeAccountFactory(user=user, starting_balance=Decimal("2500"))

    with django_capture_on_commit_callbacks(execute=True):  # the worker runs the job the request started
        response = api.post(f"/api/v1/exchange-accounts/{account.pk}/test-connection/")

    assert response.status_code == 202
    job = api.get(response.json()["url"]).json()
    assert job["result"] == {"ok": True, "balances": {"USDT": "2500.000000000000"}, "error": ""}
    assert (job["status"], job["message"]) == ("succeeded", "binance (paper): connected; balance 2500 USDT.")


def test_setting_a_paper_price_matches_and_reports_fills(api, user):
    account = ExchangeAccountFactory(user=user, price_feed="manual")
    from exchanges.paper.connector import PaperConnector

    PaperConnector(account).create_order(
        symbol="BTC/USDT",
        side="buy",
        type="limit",
        amount=Decimal("2.020"),
        price=Decimal("99.00"),
        client_order_id="dce1",
    )

    response = api.post(
        "/api/v1/paper/prices", {"exchange": "binance", "symbol": "BTCUSDT", "price": "98.5"}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["filled_orders"] == 1 and response.json()["symbol"] == "BTC/USDT"
    assert api.get("/api/v1/paper/prices").json()[0]["price"] == "98.500000000000"
    assert api.get("/api/v1/paper/prices").json()[0]["scope"] == "account"


def test_paper_endpoints_need_a_paper_account_for_that_exchange(api):
    response = api.post(
        "/api/v1/paper/prices", {"exchange": "kraken", "symbol": "BTC/USD", "price": "1"}, format="json"
    )
    assert response.status_code == 404
    assert "no paper account for 'kraken'" in response.json()["detail"]
    assert not PaperPrice.objects.exists() and not PaperAccountPrice.objects.exists()


def test_paper_markets_list_the_shipped_markets(api, user):
    ExchangeAccountFactory(user=user)
    symbols = [m["symbol"] for m in api.get("/api/v1/paper/markets?exchange=binance").json()]
    assert "BTC/USDT" in symbols and "ETH/USDT" in symbols


def test_api_needs_authentication():
    assert APIClient().get("/api/v1/exchange-accounts/").status_code in (401, 403)


def test_balance_is_the_stored_reading_and_refresh_reads_it_again_in_a_worker(
    api, user, eager_celery, django_capture_on_commit_callbacks
):
    account = ExchangeAccountFactory(user=user, starting_balance=Decimal("2500"))
    never_read = api.get(f"/api/v1/exchange-accounts/{account.pk}/balance/")
    assert never_read.status_code == 200
    assert never_read.json() == {
        "account": account.pk,
        "equity_usd": None,
        "holdings": [],
        "unpriced_assets": [],
        "fetched_at": None,
        "error": "",
        "error_at": None,
    }

    with django_capture_on_commit_callbacks(execute=True):  # the worker runs the job the request started
        response = api.post(f"/api/v1/exchange-accounts/{account.pk}/refresh-balance/")

    assert response.status_code == 202
    job = api.get(response.json()["url"]).json()
    assert (job["status"], job["result"]) == ("succeeded", {"account": account.pk, "equity_usd": "2500.000000000000"})
    body = api.get(f"/api/v1/exchange-accounts/{account.pk}/balance/").json()
    assert body["equity_usd"] == "2500.000000000000" and body["fetched_at"] is not None
    assert body["holdings"] == [
        {
            "asset": "USDT",
            "free": "2500.000000000000",
            "used": "0.000000000000",
            "usd_price": "1.000000000000",
            "usd_value": "2500.000000000000",
        }
    ]
