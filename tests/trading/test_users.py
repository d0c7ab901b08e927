"""Users: webhook secret and URL, per-user rows, secret rotation, the demo command."""

import json
import re
import uuid

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from exchanges.models import ExchangeAccount
from notifications.models import TelegramConfig
from risk.models import RiskConfig
from tests.factories import UserFactory
from trading.models import DCAConfiguration, User

pytestmark = pytest.mark.django_db


def test_new_user_has_a_strong_secret_a_webhook_url_and_its_configs(settings):
    settings.PUBLIC_BASE_URL = "https://engine.example.com"
    user = UserFactory()

    assert isinstance(user.id, uuid.UUID)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", user.webhook_secret)  # >= 32 random bytes, URL-safe
    assert user.webhook_url == f"https://engine.example.com/webhooks/{user.id}/tradingview"
    assert RiskConfig.objects.get(user=user).max_open_positions_global == 10
    assert TelegramConfig.objects.get(user=user).enabled is False


def test_each_user_gets_a_different_secret():
    assert UserFactory().webhook_secret != UserFactory().webhook_secret


def test_rotate_webhook_secret_command_replaces_the_secret(capsys):
    user = UserFactory(username="alice")
    old = user.webhook_secret

    call_command("rotate_webhook_secret", "alice")

    user.refresh_from_db()
    assert user.webhook_secret != old
    assert user.webhook_secret in capsys.readouterr().out


def test_rotate_webhook_secret_for_an_unknown_user_says_so():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command("rotate_webhook_secret", "nobody")


def test_admin_action_rotates_the_secret(client):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    trader = UserFactory(username="bob")
    old = trader.webhook_secret
    client.force_login(admin)

    client.post("/admin/trading/user/", {"action": "rotate_webhook_secret", "_selected_action": [str(trader.pk)]})

    trader.refresh_from_db()
    assert trader.webhook_secret != old


def test_demo_json_prints_everything_needed_to_send_an_alert(capsys):
    call_command("demo", "--json")

    info = json.loads(capsys.readouterr().out)
    user = User.objects.get(username="demo")
    assert {"webhook_url", "user_id", "secret", "username", "password", "api_token", "base_url"} <= set(info)
    assert info["user_id"] == str(user.id)
    assert info["secret"] == user.webhook_secret
    assert info["webhook_url"] == user.webhook_url
    assert user.check_password(info["password"])
    assert Token.objects.get(user=user).key == info["api_token"]
    assert info["webhook_url"] in info["curl"]


def test_demo_is_idempotent(capsys):
    call_command("demo", "--json")
    first = json.loads(capsys.readouterr().out)
    call_command("demo", "--json")
    second = json.loads(capsys.readouterr().out)

    assert first == second
    assert User.objects.filter(username="demo").count() == 1
    account = ExchangeAccount.objects.get(user__username="demo")
    assert (account.exchange_id, account.mode, account.price_feed) == ("binance", "paper", "synthetic")
    config = DCAConfiguration.objects.get(user__username="demo")
    assert (config.pair, config.timeframe, len(config.levels)) == ("BTC/USDT", 15, 5)
