"""Fault drills and answer dialects are an operator's command, never a trader's setting.

A trader who could arm ``kill_worker_before_accept`` on their own paper account would SIGKILL the
Celery worker every trader shares at each placement, again each time the stalled-work sweep re-sends
it. So neither the API nor admin writes ``paper_faults`` (or ``paper_dialect``); ``manage.py paper
fault`` arms them, only where ``PAPER_FAULTS_ALLOWED`` is on, and the paper connector ignores them
where it is off.
"""

import os
import subprocess
import sys
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from exchanges.connector import RetryableError
from exchanges.models import ExchangeAccount, PaperOrder
from exchanges.paper.connector import PaperConnector
from tests.api_client import client_for
from tests.drills import arm_faults
from tests.factories import PAPER_FORM_DATA, ExchangeAccountFactory, UserFactory
from trading.models import Order

pytestmark = pytest.mark.django_db
D = Decimal
KILLER = {"kill_worker_before_accept": 1000000}
ROOT = Path(__file__).resolve().parents[2]


def paper(*args: str) -> str:
    out = StringIO()
    call_command("paper", *args, stdout=out)
    return out.getvalue()


# --- Traders cannot arm them ---------------------------------------------------------------------


def test_a_traders_patch_of_paper_faults_is_refused_and_their_next_alert_fills_normally(trader, route):
    account = trader.exchange_accounts.get()
    api = client_for(trader)  # a trader, not staff

    response = api.patch(f"/api/v1/exchange-accounts/{account.pk}/", {"paper_faults": KILLER}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "paper_faults": [
            "Fault drills are set by an operator with `python manage.py paper fault <account-id> …`, never through "
            "the API: remove paper_faults from the request."
        ]
    }
    account.refresh_from_db()
    assert account.paper_faults == {}
    assert "paper_faults" not in api.get(f"/api/v1/exchange-accounts/{account.pk}/").json()
    # No worker is killed: the alert lays its five legs on the paper exchange, the first filled at 100.
    signal = route(entry_price="100")
    assert signal.status == "opened", signal.reason
    assert PaperOrder.objects.filter(account=account).count() == 5
    assert list(Order.objects.filter(role="entry").order_by("leg_index").values_list("status", flat=True)) == [
        "filled",
        "open",
        "open",
        "open",
        "open",
    ]


def test_a_patch_naming_a_drill_changes_nothing_else_either(user):
    account = ExchangeAccountFactory(user=user, label="main")

    response = client_for(user).patch(
        f"/api/v1/exchange-accounts/{account.pk}/", {"label": "renamed", "paper_dialect": "bybit"}, format="json"
    )

    assert response.status_code == 400
    assert "manage.py paper dialect" in response.json()["paper_dialect"][0]
    account.refresh_from_db()
    assert (account.label, account.paper_dialect) == ("main", "plain")


def test_a_new_account_cannot_come_with_faults(user):
    response = client_for(user).post(
        "/api/v1/exchange-accounts/", {"exchange_id": "bybit", "mode": "paper", "paper_faults": KILLER}, format="json"
    )

    assert response.status_code == 400
    assert not ExchangeAccount.objects.exists()


def test_admin_shows_drills_but_never_writes_them(client):
    operator = UserFactory(username="operator", is_staff=True, is_superuser=True)
    account = ExchangeAccountFactory(user=operator)
    client.force_login(operator)
    url = f"/admin/exchanges/exchangeaccount/{account.pk}/change/"
    form = {
        "exchange_id": "binance",
        "market_type": "spot",
        "label": "",
        "mode": "paper",
        "is_enabled": "on",
        **PAPER_FORM_DATA,
        "user": str(operator.pk),
        "paper_faults": '{"kill_worker_before_accept": 1000000}',
        "paper_dialect": "bybit",
    }

    page = client.get(url).content.decode()
    response = client.post(url, form)

    assert 'name="paper_faults"' not in page and 'name="paper_dialect"' not in page
    assert response.status_code == 302  # saved
    account.refresh_from_db()
    assert (account.paper_faults, account.paper_dialect) == ({}, "plain")


# --- The operator's command ------------------------------------------------------------------------


def test_the_operator_arms_shows_and_clears_faults(user):
    account = ExchangeAccountFactory(user=user)

    armed = paper("fault", str(account.pk), "kill_worker_after_accept", "2")
    paper("fault", str(account.pk), "lose_answer_rate", "0.05")
    shown = paper("fault", str(account.pk))

    assert "kill_worker_after_accept" in armed
    account.refresh_from_db()
    assert account.paper_faults == {"kill_worker_after_accept": 2, "lose_answer_rate": 0.05}
    assert '"lose_answer_rate": 0.05' in shown and "acted on" in shown

    paper("fault", str(account.pk), "--clear")
    account.refresh_from_db()
    assert account.paper_faults == {}


@pytest.mark.parametrize(
    "args, message",
    [
        (["kill_everything", "1"], "Unknown paper fault 'kill_everything'"),
        (["unavailable", "two"], "whole number of occurrences"),
        (["unavailable", "-1"], "whole number of occurrences"),
        (["lose_answer_rate", "2"], "a share of orders from 0 to 1"),
        (["unavailable"], "Give the count of unavailable"),
    ],
)
def test_a_bad_drill_is_refused_and_nothing_armed(user, args, message):
    account = ExchangeAccountFactory(user=user)

    with pytest.raises(CommandError, match=message):
        paper("fault", str(account.pk), *args)

    account.refresh_from_db()
    assert account.paper_faults == {}


def test_drills_are_for_paper_accounts_only(user):
    account = ExchangeAccountFactory(user=user, mode="live", api_key="k", api_secret="s")

    with pytest.raises(CommandError, match="trades live: drills and dialects are for paper accounts only"):
        paper("fault", str(account.pk), "unavailable", "1")
    with pytest.raises(CommandError, match="There is no exchange account 999999"):
        paper("fault", "999999", "unavailable", "1")


def test_where_drills_are_not_allowed_arming_is_refused_and_clearing_still_works(user, settings):
    account = ExchangeAccountFactory(user=user)
    arm_faults(account, unavailable=1)
    settings.PAPER_FAULTS_ALLOWED = False

    with pytest.raises(CommandError, match="Set PAPER_FAULTS_ALLOWED=true only on a host kept for drills"):
        paper("fault", str(account.pk), "kill_worker_before_accept", "1")

    account.refresh_from_db()
    assert account.paper_faults == {"unavailable": 1}
    assert "ignored here (PAPER_FAULTS_ALLOWED is off)" in paper("fault", str(account.pk))
    paper("fault", str(account.pk), "--clear")
    account.refresh_from_db()
    assert account.paper_faults == {}


def test_the_paper_connector_ignores_faults_where_drills_are_not_allowed(user, settings):
    """Defence in depth: a fault left armed (or written by other means) does nothing in production."""
    account = ExchangeAccountFactory(user=user, starting_balance=D("10000"))
    arm_faults(account, unavailable=1, lose_answer_rate=1)
    settings.PAPER_FAULTS_ALLOWED = False
    connector = PaperConnector(ExchangeAccount.objects.get(pk=account.pk))

    order = connector.create_order(
        symbol="BTC/USDT", side="buy", type="limit", amount=D("1"), price=D("90"), client_order_id="dce-ignored"
    )

    assert order.status == "open"
    account.refresh_from_db()
    assert account.paper_faults == {"unavailable": 1, "lose_answer_rate": 1.0}  # untouched, not consumed

    settings.PAPER_FAULTS_ALLOWED = True  # the same row on a drill host: the fault is met
    with pytest.raises(RetryableError, match="paper fault injected"):
        connector.create_order(
            symbol="BTC/USDT", side="buy", type="limit", amount=D("1"), price=D("90"), client_order_id="dce-met"
        )


def test_the_operator_sets_the_answer_dialect(user):
    account = ExchangeAccountFactory(user=user)

    assert "bybit dialect" in paper("dialect", str(account.pk), "bybit")
    account.refresh_from_db()
    assert account.paper_dialect == "bybit"
    with pytest.raises(CommandError, match="invalid choice"):
        paper("dialect", str(account.pk), "kraken")


@pytest.mark.parametrize(
    "env, allowed",
    [
        ({"DJANGO_ENV": "production"}, "False"),
        ({"DJANGO_ENV": "production", "PAPER_FAULTS_ALLOWED": "true"}, "True"),
        ({"DJANGO_ENV": "development"}, "True"),
        ({"DJANGO_ENV": "test"}, "True"),
        ({"DJANGO_ENV": "staging"}, "False"),
    ],
)
def test_drills_are_off_by_default_outside_development_and_test(tmp_path, env, allowed):
    production = {
        "SECRET_KEY": "x" * 50,
        "FIELD_ENCRYPTION_KEYS": "CHbvU8cEcTKaLLnlbXdxvb6xaqzZm35dpXlN-Sg2PCE=",
        "DATABASE_URL": "postgres://nobody@127.0.0.1:9/none",
    }
    child_env = {k: v for k, v in os.environ.items() if k != "PAPER_FAULTS_ALLOWED"}
    child_env.update({"VAR_DIR": str(tmp_path), **production, **env})
    code = "import django; django.setup(); from django.conf import settings; print(settings.PAPER_FAULTS_ALLOWED)"

    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=child_env, capture_output=True, text=True)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == allowed
