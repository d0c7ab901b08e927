"""Users: webhook secret and URL, per-user rows, secret rotation, the demo command."""

import importlib
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.forms import modelform_factory
from rest_framework.authtoken.models import Token

from exchanges.models import ExchangeAccount
from notifications.models import TelegramConfig
from tests.factories import UserFactory
from trading.models import DCAConfiguration, RiskConfig, User

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


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
    spot = ExchangeAccount.objects.get(user__username="demo", market_type="spot")
    assert (spot.exchange_id, spot.mode, spot.price_feed) == ("binance", "paper", "synthetic")
    swap = ExchangeAccount.objects.get(user__username="demo", market_type="swap")
    assert (swap.exchange_id, swap.mode, swap.price_feed, swap.label) == ("binance", "paper", "synthetic", "paper-swap")
    assert (swap.paper_position_mode, swap.starting_balance) == ("one_way", 10000)
    assert ExchangeAccount.objects.filter(user__username="demo").count() == 2
    config = DCAConfiguration.objects.get(user__username="demo")
    assert (config.pair, config.timeframe, len(config.levels)) == ("BTC/USDT", 15, 5)
    assert (config.leverage, config.margin_mode) == (3, "isolated")


# --- webhook windows (issue 14) -----------------------------------------------------------------------


def test_both_webhook_windows_default_to_600_seconds():
    user = UserFactory()

    assert (user.replay_window_seconds, user.dedupe_window_seconds) == (600, 600)


def test_a_dedupe_window_shorter_than_the_replay_window_is_refused_with_what_to_do():
    user = UserFactory()
    # The form admin builds for a user validates exactly like this one.
    form = modelform_factory(User, fields=("replay_window_seconds", "dedupe_window_seconds"))(
        {"replay_window_seconds": "600", "dedupe_window_seconds": "300"}, instance=user
    )

    assert not form.is_valid()
    assert form.errors["dedupe_window_seconds"] == [
        "Must be at least the replay window (600 s): an alert repeated after 300 s would still be inside the "
        "replay window and be acted on twice. Set it to 600 or more, or shorten the replay window."
    ]
    user.refresh_from_db()
    assert user.dedupe_window_seconds == 600


def test_equal_or_longer_dedupe_windows_are_accepted():
    user = UserFactory()
    form = modelform_factory(User, fields=("replay_window_seconds", "dedupe_window_seconds"))(
        {"replay_window_seconds": "120", "dedupe_window_seconds": "120"}, instance=user
    )

    assert form.is_valid(), form.errors
    form.save()
    user.refresh_from_db()
    assert (user.replay_window_seconds, user.dedupe_window_seconds) == (120, 120)


def test_the_database_refuses_a_dedupe_window_shorter_than_the_replay_window():
    user = UserFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=user.pk).update(dedupe_window_seconds=300)

    user.refresh_from_db()
    assert user.dedupe_window_seconds == 600


def test_the_migration_raises_existing_dedupe_windows_to_the_replay_window():
    migration = importlib.import_module("trading.migrations.0006_webhook_hardening")
    old, custom = UserFactory(), UserFactory()
    with connection.cursor() as cursor:  # as before the migration (DDL rolls back with the test)
        cursor.execute("ALTER TABLE trading_user DROP CONSTRAINT user_dedupe_covers_replay")
    User.objects.filter(pk=old.pk).update(dedupe_window_seconds=300)  # the old default
    User.objects.filter(pk=custom.pk).update(replay_window_seconds=60, dedupe_window_seconds=900)

    migration.dedupe_covers_replay(django_apps, None)

    old.refresh_from_db()
    custom.refresh_from_db()
    assert (old.replay_window_seconds, old.dedupe_window_seconds) == (600, 600)
    assert (custom.replay_window_seconds, custom.dedupe_window_seconds) == (60, 900)  # already covered


def test_demo_user_is_a_trader_not_a_superuser_unless_asked(capsys, client):
    call_command("demo", "--json")
    demo = User.objects.get(username="demo")

    assert (demo.is_superuser, demo.is_staff) == (False, False)
    client.force_login(demo)
    assert client.get("/admin/").status_code == 302  # to the admin login: no admin for the demo trader
    assert "manage.py createsuperuser" in _banner(capsys)

    call_command("demo", "--superuser", "--json")
    demo.refresh_from_db()
    assert (demo.is_superuser, demo.is_staff) == (True, True)

    call_command("demo", "--json")  # back to the demo state
    demo.refresh_from_db()
    assert demo.is_superuser is False


def _banner(capsys) -> str:
    capsys.readouterr()
    call_command("demo")
    return capsys.readouterr().out


def production(settings):
    settings.DJANGO_ENV, settings.PRODUCTION = "production", True


def nothing_of_the_demo_exists() -> bool:
    return not (
        User.objects.filter(username="demo").exists() or Token.objects.exists() or ExchangeAccount.objects.exists()
    )


@pytest.mark.parametrize("arguments", [[], ["--password", "Kq7!vY2m#Lp9xR"], ["--i-know-this-is-production"]])
def test_demo_refuses_in_production_without_a_password_and_the_confirmation(settings, arguments):
    production(settings)

    with pytest.raises(CommandError, match="DJANGO_ENV is production.*--password.*--i-know-this-is-production"):
        call_command("demo", *arguments)

    assert nothing_of_the_demo_exists()


def test_demo_in_production_with_a_password_and_the_confirmation_is_a_plain_trader(settings, capsys):
    production(settings)

    call_command("demo", "--password", "Kq7!vY2m#Lp9xR", "--i-know-this-is-production", "--json")

    demo = User.objects.get(username="demo")
    assert demo.check_password("Kq7!vY2m#Lp9xR") and not demo.check_password("demo-password")
    assert (demo.is_superuser, demo.is_staff) == (False, False)


def test_a_weak_demo_password_is_refused_with_the_reasons_and_nothing_is_created(settings):
    production(settings)

    with pytest.raises(CommandError, match="too common"):
        call_command("demo", "--password", "password", "--i-know-this-is-production")

    assert nothing_of_the_demo_exists()


def test_manage_py_demo_refuses_when_the_environment_says_production(tmp_path):
    env = {
        **os.environ,
        "DJANGO_ENV": "production",
        "SECRET_KEY": "x" * 50,
        "VAR_DIR": str(tmp_path),
        "FIELD_ENCRYPTION_KEYS": "8k4iGv2m0yq0x7aQJ2kq3oT2m4f1Zr8dJtWcF7nq2aE=",
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
    }  # refused before any database is needed

    result = subprocess.run(
        [sys.executable, "manage.py", "demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )

    assert result.returncode != 0
    assert "Refusing to set up the demo user: DJANGO_ENV is production" in result.stderr
