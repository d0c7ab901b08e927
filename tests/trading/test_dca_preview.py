"""The grid preview's surfaces: the API's GET /api/v1/dca-configs/{id}/preview/ and the DCA configuration
page's Preview (an htmx fragment of the form's values, saved or not). The numbers are the worked examples of
tests/trading/test_liquidation.py: entry 100, capital 1,000, 50 % at the entry and 50 % 10 % against it."""

import json

import pytest
from django.urls import reverse

from tests.api_client import client_for
from tests.factories import DCAConfigurationFactory, UserFactory
from trading.models import DCAConfiguration

pytestmark = pytest.mark.django_db

WIDE = [
    {"gap_percent": "0", "weight_percent": "50", "tp_percent": "2"},
    {"gap_percent": "-10", "weight_percent": "50", "tp_percent": "2"},
]


@pytest.fixture
def user():
    return UserFactory(username="previewer")


@pytest.fixture
def api(user):
    return client_for(user)


def test_api_preview_of_a_long_at_5x(api, user):
    config = DCAConfigurationFactory(user=user, levels=WIDE, capital_usd=1000, leverage=5)

    response = api.get(f"/api/v1/dca-configs/{config.pk}/preview/", {"entry_price": "100", "side": "long"})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert [(leg["price"], leg["notional"], leg["margin"]) for leg in body["legs"]] == [
        ("100.000000000000", "500.000000000000", "100.000000000000"),
        ("90.000000000000", "500.000000000000", "100.000000000000"),
    ]
    assert [leg["quantity"] for leg in body["legs"]] == ["5.000000000000", "5.555555555556"]
    assert (body["average_entry"], body["quantity"], body["margin"]) == (
        "94.736842105263",
        "10.555555555556",
        "200.000000000000",
    )
    assert body["liquidation_price"] == "76.093849080533"  # 1,440 / (19 × 0.996)
    assert (body["leverage"], body["margin_mode"], body["ladder"]) == (5, "isolated", "levels")
    assert body["last_leg_beyond_liquidation"] is False and body["warning"] is None


def test_api_preview_of_an_allowed_short_at_20x_warns_with_the_numbers(api, user):
    config = DCAConfigurationFactory(
        user=user, levels=WIDE, capital_usd=1000, leverage=20, allow_legs_beyond_liquidation=True
    )

    body = api.get(f"/api/v1/dca-configs/{config.pk}/preview/", {"entry_price": "100", "side": "short"}).json()

    assert [leg["price"] for leg in body["legs"]] == ["100.000000000000", "110.000000000000"]
    assert body["liquidation_price"] == "109.561752988048"  # 110 / 1.004
    assert [leg["beyond_liquidation"] for leg in body["legs"]] == [False, True]
    assert body["last_leg_beyond_liquidation"] is True
    assert "9.56% above the entry" in body["warning"]


def test_api_preview_uses_the_pyramids_override_and_a_long_at_1x_has_no_liquidation(api, user):
    config = DCAConfigurationFactory(
        user=user,
        levels=WIDE,
        pyramid_levels={"1": [{"gap_percent": "0", "weight_percent": "100", "tp_percent": "1"}]},
        capital_usd=1000,
    )

    body = api.get(f"/api/v1/dca-configs/{config.pk}/preview/", {"entry_price": "100", "pyramid": 1}).json()

    assert body["ladder"] == "pyramid_levels[1]" and len(body["legs"]) == 1
    assert body["liquidation_price"] is None and body["side"] == "long"


def test_api_preview_needs_a_positive_entry_price_and_is_the_owners_alone(api, user):
    config = DCAConfigurationFactory(user=user)

    missing = api.get(f"/api/v1/dca-configs/{config.pk}/preview/")
    negative = api.get(f"/api/v1/dca-configs/{config.pk}/preview/", {"entry_price": "-1"})
    bad_side = api.get(f"/api/v1/dca-configs/{config.pk}/preview/", {"entry_price": "1", "side": "up"})
    stranger = client_for(UserFactory(username="stranger")).get(
        f"/api/v1/dca-configs/{config.pk}/preview/", {"entry_price": "1"}
    )

    assert (missing.status_code, negative.status_code, bad_side.status_code) == (400, 400, 400)
    assert "entry_price" in missing.json() and "side" in bad_side.json()
    assert stranger.status_code == 404


def test_api_refuses_a_config_beyond_liquidation_and_saves_it_with_the_override(api, user):
    data = {"exchange": "binance", "pair": "BTC/USDT", "levels": WIDE, "capital_usd": "1000", "leverage": 20}

    refused = api.post("/api/v1/dca-configs/", data, format="json")

    assert refused.status_code == 400
    [long_refusal, _short] = refused.json()["non_field_errors"]
    assert "leg 1 of a long (gap -10%, 10.00% below the entry)" in long_refusal
    assert "9.64% below the entry" in long_refusal
    assert not DCAConfiguration.objects.exists()

    saved = api.post(
        "/api/v1/dca-configs/", {**data, "allow_legs_beyond_liquidation": True, "margin_mode": "cross"}, format="json"
    )

    assert saved.status_code == 201, saved.json()
    assert (saved.json()["leverage"], saved.json()["margin_mode"]) == (20, "cross")
    assert DCAConfiguration.objects.get().allow_legs_beyond_liquidation


def test_api_refuses_leverage_over_125(api, user):
    config = DCAConfigurationFactory(user=user)
    response = api.patch(f"/api/v1/dca-configs/{config.pk}/", {"leverage": 150}, format="json")
    assert response.status_code == 400 and "from 1 to 125" in str(response.json()["leverage"])
    config.refresh_from_db()
    assert config.leverage == 1


def test_the_schema_documents_the_preview(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    text = schema.content.decode()
    assert "/api/v1/dca-configs/{id}/preview/" in text and "GridPreview" in text


# --- The DCA configuration page ---------------------------------------------------------------------


def _form(**changes) -> dict:
    data = {
        "exchange": "binance",
        "pair": "BTC/USDT",
        "timeframe": "60",
        "is_active": "on",
        "levels": json.dumps(WIDE),
        "pyramid_levels": "{}",
        "max_pyramids": "3",
        "capital_usd": "1000",
        "entry_order_type": "limit",
        "tp_mode": "per_leg",
        "tp_aggregate_percent": "0",
        "pyramid_tp_percents": "{}",
        "slippage_action": "warn",
        "leverage": "20",
        "margin_mode": "isolated",
        "preview-entry_price": "100",
        "preview-side": "long",
        "preview-pyramid": "0",
    }
    data.update(changes)
    return data


@pytest.fixture
def page_client(client, user):
    client.force_login(user)
    return client


def test_the_form_page_offers_the_preview(page_client):
    page = page_client.get(reverse("dca-config-create")).content.decode()
    assert 'hx-post="/settings/dca/preview/"' in page or f'hx-post="{reverse("dca-config-preview")}"' in page
    assert 'name="preview-entry_price"' in page


def test_the_form_preview_shows_legs_average_and_liquidation_of_unsaved_values(page_client):
    response = page_client.post(reverse("dca-config-preview"), _form(), HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert response.status_code == 200
    assert "<td>100</td>" in html and "<td>90</td>" in html  # the legs' prices
    assert "average 94.736842" in html
    assert '<td colspan="5">90.361446</td>' in html  # 90 / 0.996
    assert "beyond liquidation" in html
    assert "9.64% below the entry" in html  # the reason the save would give
    assert "<html" not in html  # a fragment for htmx
    assert not DCAConfiguration.objects.exists()  # previewing saves nothing


def test_the_form_preview_without_javascript_is_a_page(page_client):
    response = page_client.post(reverse("dca-config-preview"), _form(leverage="5"))
    html = response.content.decode()
    assert "<html" in html and "76.093849" in html and "beyond liquidation" not in html


def test_the_form_preview_names_the_fields_to_fix(page_client):
    response = page_client.post(
        reverse("dca-config-preview"), _form(leverage="0", **{"preview-entry_price": ""}), HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert "No preview" in html and "leverage: Leverage must be a whole number from 1 to 125" in html


def test_the_form_refuses_to_save_beyond_liquidation_and_saves_with_the_override(page_client, user):
    refused = page_client.post(reverse("dca-config-create"), _form())
    assert refused.status_code == 200
    assert "lies beyond the estimated liquidation price" in refused.content.decode()
    assert not DCAConfiguration.objects.exists()

    saved = page_client.post(reverse("dca-config-create"), _form(allow_legs_beyond_liquidation="on"))
    assert saved.status_code == 302
    config = DCAConfiguration.objects.get(user=user)
    assert (config.leverage, config.allow_legs_beyond_liquidation) == (20, True)
