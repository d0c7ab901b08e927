"""The risk API: the trader's risk configuration, and the engine's force-stop / force-start with their audit rows."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from tests.api_client import client_for
from tests.factories import UserFactory
from trading.models import JournalEntry, PositionGroup, QueuedSignal, RiskConfig

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def api(user):
    return client_for(user)


# --- Configuration -------------------------------------------------------------------------------


def test_config_shows_the_traders_limits_with_decimals_as_strings(api):
    body = api.get("/api/v1/risk/config/").json()

    assert "user" not in body
    assert (body["max_open_positions_global"], body["max_total_exposure_usd"], body["loss_threshold_percent"]) == (
        10,
        "10000.000000000000",
        "-1.500000000000",
    )
    assert body["priority_rules"] == {
        "same_pair_timeframe": True,
        "deepest_loss_percent": True,
        "highest_replacement": True,
        "fifo_fallback": True,
    }
    assert body["engine_force_stopped"] is False and body["engine_paused_by_loss_limit"] is False


def test_put_changes_the_limits(api, user):
    response = api.put(
        "/api/v1/risk/config",
        {
            "max_open_positions_global": 3,
            "max_total_exposure_usd": "2500",
            "loss_threshold_percent": "-2.5",
            "queue_ttl_minutes": 30,
        },
        format="json",
    )

    assert response.status_code == 200, response.json()
    risk = RiskConfig.objects.get(user=user)
    assert (
        risk.max_open_positions_global,
        risk.max_total_exposure_usd,
        risk.loss_threshold_percent,
        risk.queue_ttl_minutes,
    ) == (3, D("2500"), D("-2.5"), 30)
    assert response.json()["loss_threshold_percent"] == "-2.500000000000"


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"loss_threshold_percent": "1.5"}, "loss_threshold_percent", "Use a negative percent"),
        (
            {"max_open_positions_per_symbol": 20},
            "max_open_positions_per_symbol",
            "Cannot exceed max_open_positions_global",
        ),
        ({"priority_rules": {"fifo": True}}, "priority_rules", "with these names only"),
        ({"evaluate_interval_seconds": 1}, "evaluate_interval_seconds", "at most every 5 seconds"),
    ],
)
def test_put_refuses_what_the_model_refuses_and_saves_nothing(api, user, change, field, message):
    response = api.put("/api/v1/risk/config/", {"max_open_positions_global": 4, **change}, format="json")

    assert response.status_code == 400
    assert message in str(response.json()[field])
    assert RiskConfig.objects.get(user=user).max_open_positions_global == 10  # the valid part is not saved either


def test_patch_switches_one_priority_rule_and_keeps_the_others(api, user):
    response = api.patch("/api/v1/risk/config/", {"priority_rules": {"fifo_fallback": False}}, format="json")

    assert response.status_code == 200, response.json()
    assert RiskConfig.objects.get(user=user).priority_rules == {
        "same_pair_timeframe": True,
        "deepest_loss_percent": True,
        "highest_replacement": True,
        "fifo_fallback": False,
    }


def test_engine_state_cannot_be_set_through_the_config(api, user):
    response = api.patch(
        "/api/v1/risk/config/",
        {"engine_force_stopped": True, "engine_paused_by_loss_limit": True, "max_winners_to_combine": 2},
        format="json",
    )

    assert response.status_code == 200
    risk = RiskConfig.objects.get(user=user)
    assert (risk.engine_force_stopped, risk.engine_paused_by_loss_limit) == (False, False)
    assert risk.max_winners_to_combine == 2
    assert not JournalEntry.objects.exists()


def test_each_trader_sees_and_changes_only_their_own_config(api, user):
    other = UserFactory(username="other")
    RiskConfig.objects.filter(user=other).update(max_open_positions_global=7)

    assert api.get("/api/v1/risk/config/").json()["max_open_positions_global"] == 10
    api.put("/api/v1/risk/config/", {"max_open_positions_global": 2}, format="json")
    api.post("/api/v1/risk/force-stop/")

    theirs = RiskConfig.objects.get(user=other)
    assert (theirs.max_open_positions_global, theirs.engine_force_stopped) == (7, False)
    assert not JournalEntry.objects.filter(user=other).exists()
    assert client_for(other).get("/api/v1/risk/config/").json()["max_open_positions_global"] == 7


def test_config_needs_authentication():
    assert APIClient().get("/api/v1/risk/config/").status_code in (401, 403)


# --- Force-stop / force-start --------------------------------------------------------------------


def test_force_stop_queues_new_entries_and_leaves_an_audit_row(route, trader):
    api = client_for(trader)

    response = api.post("/api/v1/risk/force-stop/")

    assert response.status_code == 200
    assert response.json()["engine_force_stopped"] is True
    assert response.json()["engine_paused_by_loss_limit"] is False
    assert "Force-stopped" in response.json()["message"]
    assert RiskConfig.objects.get(user=trader).engine_force_stopped
    action = JournalEntry.objects.get(user=trader)
    assert action.kind == JournalEntry.Kind.FORCE_STOP and "force-stopped" in action.summary

    signal = route(entry_price="100")
    assert signal.status == "queued" and "force-stopped" in signal.reason
    assert not PositionGroup.objects.exists()

    api.post("/api/v1/risk/force-stop/")  # pressing it again changes nothing
    assert JournalEntry.objects.filter(user=trader).count() == 1


def test_force_start_lets_entries_through_and_promotes_the_waiting_queue(
    route, trader, django_capture_on_commit_callbacks
):
    api = client_for(trader)
    api.post("/api/v1/risk/force-stop/")
    waiting = route(entry_price="100")
    assert waiting.status == "queued"

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/risk/force-start")

    assert response.status_code == 200
    assert (response.json()["engine_force_stopped"], response.json()["engine_paused_by_loss_limit"]) == (False, False)
    assert not RiskConfig.objects.get(user=trader).engine_force_stopped
    actions = JournalEntry.objects.filter(user=trader).order_by("created_at")
    assert list(actions.values_list("kind", flat=True)) == ["force_stop", "force_start"]
    waiting.refresh_from_db()
    assert waiting.status == "opened", waiting.reason
    assert QueuedSignal.objects.get().status == "promoted"
    assert PositionGroup.objects.get().symbol == "BTC/USDT"


def test_force_start_of_a_running_engine_changes_nothing(api, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = api.post("/api/v1/risk/force-start/")

    assert response.status_code == 200 and response.json()["engine_force_stopped"] is False
    assert not JournalEntry.objects.exists()
    assert not callbacks


def test_force_start_says_when_the_daily_loss_limit_still_pauses_entries(api, user):
    RiskConfig.objects.filter(user=user).update(engine_force_stopped=True, engine_paused_by_loss_limit=True)

    body = api.post("/api/v1/risk/force-start/").json()

    assert (body["engine_force_stopped"], body["engine_paused_by_loss_limit"]) == (False, True)
    assert "daily loss limit" in body["message"]
    assert "daily loss limit" in JournalEntry.objects.get(kind="force_start").summary
