"""DCA configuration validation in model clean() and in the admin form."""

import json

import pytest
from django.core.exceptions import ValidationError

from tests.factories import DCAConfigurationFactory, UserFactory
from trading.models import DCAConfiguration

pytestmark = pytest.mark.django_db


def test_clean_normalises_the_ladder_to_decimal_strings_and_the_keys():
    config = DCAConfigurationFactory.build(
        user=UserFactory(),
        exchange=" Binance ",
        pair="btc/usdt",
        levels=[
            {"gap_percent": 0, "weight_percent": 50.0, "tp_percent": 1},
            {"gap_percent": -1, "weight_percent": 50, "tp_percent": "1.5"},
        ],
        pyramid_tp_percents={"1": 2},
    )

    config.full_clean()

    assert config.exchange == "binance" and config.pair == "BTC/USDT"
    assert config.levels[0] == {"gap_percent": "0", "weight_percent": "50.0", "tp_percent": "1"}
    assert config.pyramid_tp_percents == {"1": "2"}


def test_clean_reports_weights_with_the_actual_sum():
    config = DCAConfigurationFactory.build(
        user=UserFactory(), levels=[{"gap_percent": 0, "weight_percent": 70, "tp_percent": 1}]
    )

    with pytest.raises(ValidationError) as error:
        config.full_clean()

    assert "they sum to 70" in str(error.value.message_dict["levels"])


def test_aggregate_mode_needs_an_aggregate_percent():
    config = DCAConfigurationFactory.build(user=UserFactory(), tp_mode="aggregate", tp_aggregate_percent=0)

    with pytest.raises(ValidationError) as error:
        config.full_clean()

    assert "tp_aggregate_percent" in error.value.message_dict


def test_pair_must_be_unified_or_the_default_star():
    with pytest.raises(ValidationError) as error:
        DCAConfigurationFactory.build(user=UserFactory(), pair="BTCUSDT").full_clean()
    assert "BASE/QUOTE" in str(error.value.message_dict["pair"])
    DCAConfigurationFactory.build(user=UserFactory(), pair="*", timeframe=None).full_clean()


def _admin_form(levels, **overrides):
    data = {
        "exchange": "binance",
        "pair": "BTC/USDT",
        "timeframe": "15",
        "is_active": "on",
        "levels": json.dumps(levels),
        "pyramid_levels": "{}",
        "max_pyramids": "5",
        "capital_usd": "1000",
        "entry_order_type": "limit",
        "tp_mode": "per_leg",
        "tp_aggregate_percent": "0",
        "pyramid_tp_percents": "{}",
        "slippage_action": "warn",
        "leverage": "1",
        "margin_mode": "isolated",
    }
    data.update(overrides)
    return data


@pytest.fixture
def admin_client_for(client):
    admin = UserFactory(username="admin", is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client, admin


def test_admin_refuses_weights_not_summing_to_100_and_creates_nothing(admin_client_for):
    client, admin = admin_client_for
    levels = [{"gap_percent": 0, "weight_percent": 20, "tp_percent": 2}] * 4

    response = client.post("/admin/trading/dcaconfiguration/add/", _admin_form(levels, user=str(admin.pk)))

    assert response.status_code == 200
    assert "weight_percent must sum to 100; they sum to 80" in response.content.decode()
    assert not DCAConfiguration.objects.exists()


def test_admin_refuses_non_numbers(admin_client_for):
    client, admin = admin_client_for
    levels = [{"gap_percent": "ten", "weight_percent": 100, "tp_percent": 2}]

    response = client.post("/admin/trading/dcaconfiguration/add/", _admin_form(levels, user=str(admin.pk)))

    assert "gap_percent must be a number" in response.content.decode()
    assert not DCAConfiguration.objects.exists()


def test_admin_saves_a_valid_configuration(admin_client_for):
    client, admin = admin_client_for
    levels = [
        {"gap_percent": 0, "weight_percent": 60, "tp_percent": 2},
        {"gap_percent": -1, "weight_percent": 40, "tp_percent": 2},
    ]

    response = client.post("/admin/trading/dcaconfiguration/add/", _admin_form(levels, user=str(admin.pk)))

    assert response.status_code == 302
    config = DCAConfiguration.objects.get()
    assert config.levels[1] == {"gap_percent": "-1", "weight_percent": "40", "tp_percent": "2"}
