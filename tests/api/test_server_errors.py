"""Requests that once ended in a 500, found by the schemathesis run (test_schemathesis.py) and by probing
around what it found. Each now gets an answer the trader can act on, and changes nothing."""

import pytest
from rest_framework.test import APIClient

from exchanges.models import ExchangeAccount
from tests.api_client import client_for
from tests.factories import DCAConfigurationFactory, ExchangeAccountFactory, PositionGroupFactory
from trading.models import DCAConfiguration, RiskConfig

pytestmark = pytest.mark.django_db
NUL = "\x00"


@pytest.fixture
def api(user) -> APIClient:
    return client_for(user)


# --- Deleting an exchange account that positions were traded on ---------------------------------


def test_an_account_with_positions_is_kept_and_the_trader_told_to_disable_it(api, user):
    account = ExchangeAccountFactory(user=user)
    PositionGroupFactory(user=user, exchange_account=account, status="closed")

    response = api.delete(f"/api/v1/exchange-accounts/{account.pk}/")

    assert response.status_code == 409
    assert response.json()["detail"] == (
        "The binance account has 1 position(s) on record (open or closed), so it "
        "cannot be deleted: set is_enabled to false to stop trading on it."
    )
    assert ExchangeAccount.objects.filter(pk=account.pk).exists()


def test_an_account_without_positions_is_deleted(api, user):
    account = ExchangeAccountFactory(user=user)

    assert api.delete(f"/api/v1/exchange-accounts/{account.pk}/").status_code == 204
    assert not ExchangeAccount.objects.filter(pk=account.pk).exists()


# --- NUL characters, which PostgreSQL cannot store in jsonb nor compare in text -------------------


@pytest.mark.parametrize("value", [NUL, {"unavailable": NUL}, {NUL: 1}, [f"a{NUL}b"]])
def test_a_nul_in_paper_faults_is_refused_and_nothing_saved(api, user, value):
    """paper_faults is no API field any more (an operator's command): refused whatever it holds."""
    account = ExchangeAccountFactory(user=user, paper_faults={"unavailable": 1})

    response = api.patch(f"/api/v1/exchange-accounts/{account.pk}/", {"paper_faults": value}, format="json")

    assert response.status_code == 400
    assert "manage.py paper fault" in response.json()["paper_faults"][0]
    account.refresh_from_db()
    assert account.paper_faults == {"unavailable": 1}


@pytest.mark.parametrize(
    "field, value",
    [
        ("levels", [{"gap_percent": "0", "weight_percent": "100", "tp_percent": f"2{NUL}"}]),
        ("pyramid_levels", {NUL: []}),
        ("pyramid_tp_percents", {"0": NUL}),
    ],
)
def test_a_nul_in_a_dca_ladder_is_refused_and_nothing_saved(api, user, field, value):
    config = DCAConfigurationFactory(user=user)
    before = DCAConfiguration.objects.filter(pk=config.pk).values().get()

    response = api.patch(f"/api/v1/dca-configs/{config.pk}/", {field: value}, format="json")

    assert response.status_code == 400
    assert response.json() == {field: ["Null characters are not allowed."]}
    assert DCAConfiguration.objects.filter(pk=config.pk).values().get() == before


def test_a_nul_in_the_priority_rules_is_refused(api, user):
    response = api.patch("/api/v1/risk/config/", {"priority_rules": {NUL: True}}, format="json")

    assert response.status_code == 400
    assert response.json() == {"priority_rules": ["Null characters are not allowed."]}
    assert NUL not in str(RiskConfig.objects.get(user=user).priority_rules)


@pytest.mark.parametrize(
    "url, parameter",
    [
        ("/api/v1/positions/?symbol=BTC%00", "symbol"),
        ("/api/v1/positions/?exchange=%00", "exchange"),
        ("/api/v1/orders/?symbol=%00", "symbol"),
        ("/api/v1/paper/markets/?exchange=binance%00", "exchange"),
    ],
)
def test_a_nul_in_a_filter_is_refused_by_name(api, url, parameter):
    response = api.get(url)

    assert response.status_code == 400
    assert response.json() == {parameter: ["Null characters are not allowed."]}


# --- Exchange accounts ccxt cannot trade ------------------------------------------------------------


@pytest.mark.parametrize(
    "body, errors",
    [
        (
            {"exchange_id": "kraken", "mode": "testnet"},
            {"mode": ["kraken has no testnet in ccxt: use live or paper mode."]},
        ),
        (
            {"exchange_id": "notreal", "mode": "live"},
            {
                "exchange_id": [
                    "ccxt has no exchange 'notreal': use its ccxt id (binance, bybit, okx, …), or mode paper for a "
                    "dry run."
                ]
            },
        ),
    ],
)
def test_an_account_ccxt_cannot_trade_is_refused_when_saved(api, user, body, errors):
    response = api.post("/api/v1/exchange-accounts/", {**body, "api_key": "k", "api_secret": "s"}, format="json")

    assert response.status_code == 400
    assert response.json() == errors
    assert not ExchangeAccount.objects.filter(user=user).exists()


def test_switching_an_account_to_a_testnet_ccxt_lacks_is_refused(api, user):
    account = ExchangeAccountFactory(user=user, exchange_id="kraken", mode="live", api_key="k", api_secret="s")

    response = api.patch(f"/api/v1/exchange-accounts/{account.pk}/", {"mode": "testnet"}, format="json")

    assert response.status_code == 400
    account.refresh_from_db()
    assert account.mode == "live"


def test_an_existing_testnet_account_ccxt_lacks_reports_the_problem(
    user, loopback_only, eager_celery, django_capture_on_commit_callbacks
):
    account = ExchangeAccountFactory(user=user, exchange_id="kraken", mode="testnet", api_key="k", api_secret="s")
    api = APIClient(raise_request_exception=False)
    api.force_authenticate(user)

    with django_capture_on_commit_callbacks(execute=True):  # the worker runs the job the request started
        response = api.post(f"/api/v1/exchange-accounts/{account.pk}/test-connection/")

    assert response.status_code == 202
    job = api.get(response.json()["url"]).json()
    assert job["status"] == "failed" and job["result"]["ok"] is False
