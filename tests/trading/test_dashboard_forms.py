"""The dashboard's settings forms and the queue's promote button: what a trader can change without /admin/.

Each form: a valid post saves, an invalid one shows the error next to its field and saves nothing,
another trader's row answers 404.
"""

import json
import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from exchanges.models import ExchangeAccount
from notifications.models import TelegramConfig
from tests.factories import PAPER_FORM_DATA, ExchangeAccountFactory, UserFactory
from trading.models import DCAConfiguration, QueuedSignal, RiskConfig, Signal

LADDER = [
    {"gap_percent": 0, "weight_percent": 60, "tp_percent": 2},
    {"gap_percent": -1, "weight_percent": 40, "tp_percent": 2},
]


@pytest.fixture
def intruder():
    other = Client()
    other.force_login(UserFactory())
    return other


def _field_errors(page: str, name: str) -> str:
    """The text of the field's block (label, input, errors, help) on a settings form page."""
    match = re.search(rf'<div class="field[^"]*" id="field-{name}">(.*?)</div>\n', page, re.S)
    assert match, f"no field {name} on the page"
    return match.group(1)


def _form_data(data: dict, changes: dict) -> dict:
    """A settings form's POST: ``data`` with ``changes`` applied; a change to None leaves the field out."""
    return {name: value for name, value in {**data, **changes}.items() if value is not None}


def _dca_post(**changes) -> dict:
    data = {
        "exchange": "Binance",
        "pair": "sol/usdt",
        "timeframe": "60",
        "is_active": "on",
        "levels": json.dumps(LADDER),
        "pyramid_levels": "{}",
        "max_pyramids": "3",
        "capital_usd": "500",
        "entry_order_type": "limit",
        "tp_mode": "per_leg",
        "tp_aggregate_percent": "0",
        "pyramid_tp_percents": "{}",
        "stop_loss_percent": "",
        "max_slippage_percent": "",
        "slippage_action": "warn",
        "leverage": "1",
        "margin_mode": "isolated",
    }
    return _form_data(data, changes)


# --- DCA configurations ----------------------------------------------------------------------------


def test_new_dca_configuration_is_saved_normalised(trader_client, trader):
    page = trader_client.get(reverse("dca-config-create"))
    assert page.status_code == 200 and b"csrfmiddlewaretoken" in page.content

    response = trader_client.post(reverse("dca-config-create"), _dca_post())

    assert response.status_code == 302
    config = DCAConfiguration.objects.get(user=trader, pair="SOL/USDT")
    assert (config.exchange, config.timeframe, config.max_pyramids, config.capital_usd) == (
        "binance",
        60,
        3,
        Decimal("500"),
    )
    assert [level["weight_percent"] for level in config.levels] == ["60", "40"]  # stored as decimal strings
    assert "SOL/USDT" in trader_client.get(reverse("settings")).content.decode()


def test_dca_weights_not_summing_to_100_are_refused_next_to_the_ladder(trader_client, trader):
    before = DCAConfiguration.objects.count()
    ladder = [
        {"gap_percent": 0, "weight_percent": 50, "tp_percent": 2},
        {"gap_percent": -1, "weight_percent": 40, "tp_percent": 2},
    ]

    response = trader_client.post(reverse("dca-config-create"), _dca_post(levels=json.dumps(ladder)))

    page = response.content.decode()
    assert response.status_code == 200
    assert "Nothing was saved" in page
    assert "100" in _field_errors(page, "levels") and 'class="errorlist"' in _field_errors(page, "levels")
    assert DCAConfiguration.objects.count() == before


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"pair": "SOLUSDT"}, "pair", "BASE/QUOTE"),
        (
            {"tp_mode": "aggregate", "tp_aggregate_percent": "0"},
            "tp_aggregate_percent",
            "positive tp_aggregate_percent",
        ),
        ({"levels": "not json"}, "levels", "valid JSON"),
        ({"capital_usd": "abc"}, "capital_usd", "number"),
    ],
)
def test_dca_invalid_input_shows_the_error_by_its_field(trader_client, changes, field, message):
    before = DCAConfiguration.objects.count()

    page = trader_client.post(reverse("dca-config-create"), _dca_post(**changes)).content.decode()

    assert message in _field_errors(page, field)
    assert DCAConfiguration.objects.count() == before


def test_dca_check_constraints_are_shown_by_their_field(trader_client):
    before = DCAConfiguration.objects.count()

    page = trader_client.post(
        reverse("dca-config-create"), _dca_post(capital_usd="0", stop_loss_percent="-5")
    ).content.decode()

    assert "Nothing was saved" in page
    assert "Must be greater than 0." in _field_errors(page, "capital_usd")
    assert "Must be greater than 0." in _field_errors(page, "stop_loss_percent")
    assert "is violated" not in page  # the database constraint's name is not what a trader reads
    assert DCAConfiguration.objects.count() == before


def test_second_dca_configuration_for_the_same_market_names_the_clash(trader_client, trader):
    existing = DCAConfiguration.objects.get(user=trader, pair="BTC/USDT")

    page = trader_client.post(reverse("dca-config-create"), _dca_post(pair="btc/usdt", timeframe="15")).content.decode()

    assert f"You already have a DCA configuration for {existing}" in page
    assert DCAConfiguration.objects.filter(user=trader, pair="BTC/USDT").count() == 1


def test_edit_dca_configuration(trader_client, trader):
    config = DCAConfiguration.objects.get(user=trader, pair="BTC/USDT")
    form = trader_client.get(reverse("dca-config-edit", args=[config.pk])).content.decode()
    assert "BTC/USDT" in form and "gap_percent" in form

    response = trader_client.post(
        reverse("dca-config-edit", args=[config.pk]),
        _dca_post(pair="BTC/USDT", timeframe="15", capital_usd="750", tp_mode="hybrid", tp_aggregate_percent="3"),
    )

    assert response.status_code == 302
    config.refresh_from_db()
    assert (config.capital_usd, config.tp_mode, config.max_pyramids) == (Decimal("750"), "hybrid", 3)


def test_invalid_edit_changes_nothing(trader_client, trader):
    config = DCAConfiguration.objects.get(user=trader, pair="BTC/USDT")
    levels = config.levels

    page = trader_client.post(
        reverse("dca-config-edit", args=[config.pk]),
        _dca_post(pair="BTC/USDT", timeframe="15", levels='[{"gap_percent": 0}]', capital_usd="750"),
    ).content.decode()

    assert "levels level 1: missing weight_percent, tp_percent" in _field_errors(page, "levels")
    config.refresh_from_db()
    assert config.capital_usd == Decimal("1000") and config.levels == levels


def test_delete_dca_configuration_asks_first(trader_client, trader):
    config = DCAConfiguration.objects.get(user=trader, pair="ETH/USDT")

    confirm = trader_client.get(reverse("dca-config-delete", args=[config.pk]))
    assert b"Yes, delete it" in confirm.content and DCAConfiguration.objects.filter(pk=config.pk).exists()

    response = trader_client.post(reverse("dca-config-delete", args=[config.pk]))

    assert response.status_code == 302
    assert not DCAConfiguration.objects.filter(pk=config.pk).exists()


def test_another_users_dca_configuration_answers_404(trader, intruder):
    config = DCAConfiguration.objects.get(user=trader, pair="BTC/USDT")

    assert intruder.get(reverse("dca-config-edit", args=[config.pk])).status_code == 404
    assert intruder.post(reverse("dca-config-edit", args=[config.pk]), _dca_post(capital_usd="1")).status_code == 404
    assert intruder.post(reverse("dca-config-delete", args=[config.pk])).status_code == 404
    config.refresh_from_db()
    assert config.capital_usd == Decimal("1000")


# --- Exchange accounts -------------------------------------------------------------------------------


def _account_post(**changes) -> dict:
    data = {
        "exchange_id": "Bybit",
        "market_type": "spot",
        "label": "main",
        "mode": "paper",
        "is_enabled": "on",
        "api_key": "",
        "api_secret": "",
        "api_password": "",
        **PAPER_FORM_DATA,
    }
    return _form_data(data, changes)


def test_new_paper_account_needs_no_keys(trader_client, trader):
    response = trader_client.post(reverse("exchange-account-create"), _account_post())

    assert response.status_code == 302
    account = ExchangeAccount.objects.get(user=trader, exchange_id="bybit")
    assert account.mode == "paper" and account.label == "main"


def test_live_account_without_keys_is_refused_at_the_key_field(trader_client, trader):
    page = trader_client.post(reverse("exchange-account-create"), _account_post(mode="live")).content.decode()

    assert "needs an API key and secret" in _field_errors(page, "api_key")
    assert not ExchangeAccount.objects.filter(user=trader, exchange_id="bybit").exists()


def test_second_account_on_the_same_exchange_is_refused(trader_client, trader):
    page = trader_client.post(reverse("exchange-account-create"), _account_post(exchange_id="BINANCE")).content.decode()

    assert "You already have an account on this exchange" in page
    assert ExchangeAccount.objects.filter(user=trader).count() == 1


def test_a_swap_account_beside_the_spot_account_on_the_same_exchange(trader_client, trader):
    response = trader_client.post(
        reverse("exchange-account-create"), _account_post(exchange_id="BINANCE", market_type="swap", label="perp")
    )

    assert response.status_code == 302
    accounts = ExchangeAccount.objects.filter(user=trader, exchange_id="binance").order_by("pk")
    assert [(account.market_type, account.label) for account in accounts] == [("spot", ""), ("swap", "perp")]


def test_a_label_already_used_is_refused_at_the_label_field(trader_client, trader):
    ExchangeAccount.objects.filter(user=trader).update(label="main")

    page = trader_client.post(reverse("exchange-account-create"), _account_post(label="main")).content.decode()

    assert "You already have an account with this label" in _field_errors(page, "label")
    assert ExchangeAccount.objects.filter(user=trader).count() == 1


def test_keys_are_write_only_and_kept_when_left_empty(trader_client, trader):
    account = ExchangeAccountFactory(user=trader, exchange_id="kraken")
    url = reverse("exchange-account-edit", args=[account.pk])

    trader_client.post(
        url, _account_post(exchange_id="kraken", mode="testnet", api_key="key-123", api_secret="secret-456")
    )
    account.refresh_from_db()
    assert (account.mode, account.api_key, account.api_secret) == ("testnet", "key-123", "secret-456")

    form = trader_client.get(url).content.decode()
    assert "key-123" not in form and "secret-456" not in form
    assert "Leave empty to keep it" in form

    trader_client.post(url, _account_post(exchange_id="kraken", mode="testnet", label="renamed"))
    account.refresh_from_db()
    assert (account.label, account.api_key, account.api_secret) == ("renamed", "key-123", "secret-456")
    settings_page = trader_client.get(reverse("settings")).content.decode()
    assert "key-123" not in settings_page and "stored" in settings_page


def test_invalid_account_edit_changes_nothing(trader_client, trader):
    account = trader.exchange_accounts.get()

    page = trader_client.post(
        reverse("exchange-account-edit", args=[account.pk]),
        _account_post(exchange_id="binance", partial_fill_ratio="2"),
    ).content.decode()

    assert "Must be greater than 0 and at most 1." in _field_errors(page, "partial_fill_ratio")
    account.refresh_from_db()
    assert account.partial_fill_ratio == Decimal("1") and account.label == ""


def test_an_accounts_exchange_is_fixed_once_it_exists(trader_client, trader):
    account = trader.exchange_accounts.get()

    trader_client.post(reverse("exchange-account-edit", args=[account.pk]), _account_post(exchange_id="kraken"))

    account.refresh_from_db()
    assert account.exchange_id == "binance" and account.label == "main"  # the rest of the form was saved


def test_test_connection_button_reports_the_balance(
    trader_client, trader, eager_celery, django_capture_on_commit_callbacks
):
    account = trader.exchange_accounts.get()

    with django_capture_on_commit_callbacks(execute=True):  # the worker runs the job the button started
        response = trader_client.post(reverse("exchange-account-test", args=[account.pk]))

    assert "binance (paper): connected; balance" in trader_client.get(response.url).content.decode()


def test_another_users_exchange_account_answers_404(trader, intruder):
    account = trader.exchange_accounts.get()

    assert intruder.get(reverse("exchange-account-edit", args=[account.pk])).status_code == 404
    assert (
        intruder.post(
            reverse("exchange-account-edit", args=[account.pk]), _account_post(exchange_id="binance", label="mine")
        ).status_code
        == 404
    )
    assert intruder.post(reverse("exchange-account-test", args=[account.pk])).status_code == 404
    account.refresh_from_db()
    assert account.label == ""


# --- Risk config -----------------------------------------------------------------------------------------


def _risk_post(**changes) -> dict:
    data = {
        "max_open_positions_global": "4",
        "max_open_positions_per_symbol": "2",
        "max_total_exposure_usd": "5000",
        "max_realized_loss_usd": "250",
        "queue_ttl_minutes": "30",
        "loss_threshold_percent": "-2",
        "required_pyramids_for_timer": "2",
        "post_pyramids_wait_minutes": "10",
        "max_winners_to_combine": "2",
        "evaluate_interval_seconds": "30",
        "rule_same_pair_timeframe": "on",
        "rule_fifo_fallback": "on",
    }
    return _form_data(data, changes)


def test_risk_settings_are_saved(trader_client, trader):
    response = trader_client.post(reverse("risk-config-edit"), _risk_post())

    assert response.status_code == 302
    risk = RiskConfig.objects.get(user=trader)
    assert (risk.max_open_positions_global, risk.max_total_exposure_usd, risk.loss_threshold_percent) == (
        4,
        Decimal("5000"),
        Decimal("-2"),
    )
    assert risk.priority_rules == {
        "same_pair_timeframe": True,
        "deepest_loss_percent": False,
        "highest_replacement": False,
        "fifo_fallback": True,
    }
    assert not risk.engine_force_stopped  # the engine's own flags are not on the form


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"loss_threshold_percent": "1.5"}, "loss_threshold_percent", "negative percent"),
        ({"max_open_positions_per_symbol": "9"}, "max_open_positions_per_symbol", "Cannot exceed"),
        ({"max_total_exposure_usd": ""}, "max_total_exposure_usd", "required"),
    ],
)
def test_invalid_risk_settings_are_refused_by_their_field(trader_client, trader, changes, field, message):
    RiskConfig.objects.get_or_create(user=trader)

    page = trader_client.post(reverse("risk-config-edit"), _risk_post(**changes)).content.decode()

    assert message in _field_errors(page, field)
    risk = RiskConfig.objects.get(user=trader)
    assert risk.max_open_positions_global == 10 and risk.loss_threshold_percent == Decimal("-1.5")


# --- Telegram ------------------------------------------------------------------------------------------


def _telegram_post(**changes) -> dict:
    data = {
        "enabled": "on",
        "bot_token": "123:abc",
        "channel_id": "@signals",
        "channel_name": "Signals",
        "engine_signature": "",
        "send_entry_signals": "on",
        "send_exit_signals": "on",
        "alert_loss_threshold_percent": "",
        "alert_profit_threshold_percent": "",
        "quiet_hours_start": "22:00",
        "quiet_hours_end": "07:30",
        "quiet_hours_enabled": "on",
    }
    return _form_data(data, changes)


def test_telegram_settings_are_saved_and_the_token_is_write_only(trader_client, trader):
    response = trader_client.post(reverse("telegram-edit"), _telegram_post())

    assert response.status_code == 302
    config = TelegramConfig.objects.get(user=trader)
    assert (config.enabled, config.bot_token, config.channel_id, config.send_status_updates) == (
        True,
        "123:abc",
        "@signals",
        False,
    )
    assert f"{config.quiet_hours_start:%H:%M}-{config.quiet_hours_end:%H:%M}" == "22:00-07:30"
    assert "123:abc" not in trader_client.get(reverse("telegram-edit")).content.decode()

    trader_client.post(reverse("telegram-edit"), _telegram_post(bot_token="", channel_name="Renamed"))
    config.refresh_from_db()
    assert (config.bot_token, config.channel_name) == ("123:abc", "Renamed")


def test_enabling_telegram_without_a_token_is_refused(trader_client, trader):
    page = trader_client.post(reverse("telegram-edit"), _telegram_post(bot_token="")).content.decode()

    assert "Add the bot token and channel id" in _field_errors(page, "enabled")
    config = TelegramConfig.objects.get(user=trader)
    assert not config.enabled and config.channel_id == ""


# --- Queue promote -----------------------------------------------------------------------------------


@pytest.fixture
def queued(trader, route):
    """A full pool (one slot, taken by BTC/USDT) and an ETH/USDT entry waiting in the queue."""
    RiskConfig.objects.update_or_create(user=trader, defaults={"max_open_positions_global": 1})
    assert route().status == Signal.Status.OPENED
    signal = route(symbol="ETHUSDT")
    assert signal.status == Signal.Status.QUEUED, signal.reason
    return QueuedSignal.objects.get(signal=signal)


def test_promote_asks_first_then_opens_the_position(trader_client, queued, django_capture_on_commit_callbacks):
    queue_page = trader_client.get(reverse("queue")).content.decode()
    assert reverse("queue-promote", args=[queued.pk]) in queue_page
    confirm = trader_client.get(reverse("queue-promote", args=[queued.pk]))
    assert b"Yes, promote it now" in confirm.content
    queued.refresh_from_db()
    assert queued.status == QueuedSignal.Status.QUEUED  # showing the confirmation changes nothing

    with django_capture_on_commit_callbacks(execute=True):  # the worker runs the job the button started
        response = trader_client.post(reverse("queue-promote", args=[queued.pk]))

    queued.refresh_from_db()
    queued.signal.refresh_from_db()
    assert queued.status == QueuedSignal.Status.PROMOTED
    assert queued.signal.status == Signal.Status.OPENED
    assert response.url.startswith(reverse("queue") + "?job=")
    page = trader_client.get(response.url).content.decode()
    assert "long ETH/USDT 15m promoted: opened." in page
    assert reverse("position-detail", args=[queued.signal.position_group_id]) in page  # the link to it


def test_promote_while_force_stopped_says_so_and_keeps_it_queued(
    trader_client, queued, django_capture_on_commit_callbacks
):
    trader_client.post(reverse("engine-stop"))

    with django_capture_on_commit_callbacks(execute=True):
        response = trader_client.post(reverse("queue-promote", args=[queued.pk]))

    assert "the engine is force-stopped" in trader_client.get(response.url).content.decode()
    queued.refresh_from_db()
    assert queued.status == QueuedSignal.Status.QUEUED


def test_promote_an_entry_that_left_the_queue_changes_nothing(trader_client, queued):
    trader_client.post(reverse("queue-remove", args=[queued.pk]))

    response = trader_client.post(reverse("queue-promote", args=[queued.pk]), follow=True)

    assert "had already left the queue (cancelled)" in response.content.decode()
    queued.refresh_from_db()
    assert queued.status == QueuedSignal.Status.CANCELLED


def test_another_users_queue_entry_cannot_be_promoted(queued, intruder):
    assert intruder.get(reverse("queue-promote", args=[queued.pk])).status_code == 404
    assert intruder.post(reverse("queue-promote", args=[queued.pk])).status_code == 404
    queued.refresh_from_db()
    assert queued.status == QueuedSignal.Status.QUEUED


# --- Every form --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["dca-config-create", "exchange-account-create", "risk-config-edit", "telegram-edit"])
def test_forms_need_login_and_a_csrf_token(trader, name):
    assert Client().get(reverse(name)).url.startswith("/accounts/login/")
    client = Client(enforce_csrf_checks=True)
    client.force_login(trader)
    page = client.get(reverse(name)).content.decode()
    assert 'name="csrfmiddlewaretoken"' in page

    assert client.post(reverse(name), {}).status_code == 403


def test_settings_page_links_to_the_forms_not_the_admin(trader_client, trader):
    page = trader_client.get(reverse("settings")).content.decode()
    config = DCAConfiguration.objects.get(user=trader, pair="BTC/USDT")
    account = trader.exchange_accounts.get()

    for url in (
        reverse("dca-config-create"),
        reverse("dca-config-edit", args=[config.pk]),
        reverse("exchange-account-create"),
        reverse("exchange-account-edit", args=[account.pk]),
        reverse("exchange-account-test", args=[account.pk]),
        reverse("risk-config-edit"),
        reverse("telegram-edit"),
    ):
        assert url in page
    assert "/admin/" not in page  # a trader is not staff: admin links would only answer with a login form


@pytest.mark.django_db
def test_settings_of_a_new_trader_show_empty_states(client):
    client.force_login(UserFactory())

    page = client.get(reverse("settings")).content.decode()

    assert "No exchange account yet" in page and "No DCA configuration yet" in page
    assert reverse("exchange-account-create") in page and reverse("dca-config-create") in page


def test_dca_form_of_a_new_configuration_starts_from_the_trader_exchange(trader_client, trader):
    page = trader_client.get(reverse("dca-config-create")).content.decode()

    assert 'value="binance"' in page and "weight_percent" in page
