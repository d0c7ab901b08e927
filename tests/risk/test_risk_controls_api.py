"""The risk API's engine controls: status, run-evaluation, block / unblock / skip, sync-exchange, actions.

run-evaluation and sync-exchange read the exchange, so they answer 202 with a job the worker runs; the
tests run it as the worker would and read its result from the job.

The book is the reference scenario (engine analysis §"Risk Engine Example Scenario") on the paper
exchange: BTC long 1.0 @ 100 now 95 (−5.00 USD, −5 %), ETH long 2.0 @ 2,000 now 2,100 (+200 USD),
SOL long 10 @ 50 now 55 (+50 USD). The offset closes BTC and 0.05 ETH (5 USD at 100 USD per ETH).
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from exchanges.ccxt.markets import forget_process_markets, markets_cache_key
from exchanges.connector import RetryableError
from exchanges.models import ExchangeAccount
from exchanges.paper.connector import PaperConnector
from exchanges.paper.services import paper_price_set
from risk.evaluation import risk_evaluate
from tests.api_client import client_for
from tests.factories import PositionGroupFactory, PyramidFactory, UserFactory
from trading.models import JournalEntry, Order, PositionGroup, RiskConfig

pytestmark = pytest.mark.django_db
D = Decimal
BTC_LOSS = "5.000000000000"


@pytest.fixture
def reference_book(holding):
    btc = holding("BTC/USDT", "1.0", "100", "95")
    eth = holding("ETH/USDT", "2.0", "2000", "2100")
    sol = holding("SOL/USDT", "10", "50", "55")
    return btc, eth, sol


@pytest.fixture
def timers_started(risk_trader, reference_book):
    """The BTC timer started 16 minutes ago (15-minute wait): expired, though no evaluation has marked it yet."""
    risk_evaluate(user=risk_trader, now=timezone.now() - timedelta(minutes=16), dispatch=False)
    return reference_book


@pytest.fixture
def api(risk_trader):
    return client_for(risk_trader)


def run_job(api, path: str, capture) -> dict:
    """POST ``path``: 202 and a job, nothing done yet; then the worker runs it (and the closes it
    dispatches, inline) and the job's poll answers the result."""
    with capture() as handed_over:
        response = api.post(path)
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "queued"
    with capture(execute=True):
        for callback in handed_over:
            callback()
    job = api.get(response.json()["url"])
    assert job.status_code == 200 and job.json()["status"] in ("succeeded", "failed")
    return job.json()


@pytest.fixture
def run_evaluation(api, eager_celery, django_capture_on_commit_callbacks):
    """POST run-evaluation and run its job with the dispatched closes executed inline, as a worker would."""

    def _run():
        job = run_job(api, "/api/v1/risk/run-evaluation/", django_capture_on_commit_callbacks)
        assert job["status"] == "succeeded", job["message"]
        return job["result"]

    return _run


def by_symbol(rows: list[dict]) -> dict:
    return {row["symbol"]: row for row in rows}


# --- Status --------------------------------------------------------------------------------------------


def test_status_shows_the_reference_offset_with_reasons_and_changes_nothing(api, risk_trader, timers_started):
    btc, eth, sol = timers_started
    actions_before = JournalEntry.objects.count()
    evaluated_at = RiskConfig.objects.get(user=risk_trader).last_evaluated_at

    response = api.get("/api/v1/risk/status/")

    assert response.status_code == 200
    body = response.json()
    assert body["loser"]["id"] == str(btc.pk) and body["loser"]["symbol"] == "BTC/USDT"
    assert (body["loser"]["unrealized_pnl_usd"], body["loser"]["required_usd"]) == ("-5.000000000000", BTC_LOSS)
    assert [(w["symbol"], w["quantity"], w["profit_usd"], w["price"]) for w in body["winners"]] == [
        ("ETH/USDT", "0.050000000000", "5.000000000000", "2100.000000000000")
    ]
    assert (body["covered_usd"], body["covers_loss"], body["would_execute"]) == ("5.000000000000", True, True)
    assert body["reason"] == "offset would execute"
    positions = by_symbol(body["positions"])
    assert [p["symbol"] for p in body["positions"]] == ["BTC/USDT", "ETH/USDT", "SOL/USDT"]  # worst loss first
    assert (positions["BTC/USDT"]["eligible"], positions["BTC/USDT"]["reason"]) == (True, None)
    assert positions["BTC/USDT"]["pending_timer_event"] == "timer_expired"
    assert positions["BTC/USDT"]["risk_eligible"] is False  # stored: no evaluation has marked it yet
    assert positions["BTC/USDT"]["risk_timer_start"] is not None and positions["BTC/USDT"]["risk_timer_expires"]
    assert positions["ETH/USDT"]["eligible"] is False
    assert positions["ETH/USDT"]["reason"] == "loss 5.00% is not beyond -1.5%"
    assert positions["SOL/USDT"]["unrealized_pnl_usd"] == "50.000000000000"
    engine = body["engine"]
    assert (engine["engine_force_stopped"], engine["engine_paused_by_loss_limit"]) == (False, False)
    assert D(engine["realized_loss_today_usd"]) == 0 and engine["max_realized_loss_usd"] == "500.000000000000"

    # Nothing was written: no timer marked, no audit row, no close, no evaluation time.
    btc.refresh_from_db()
    assert (btc.status, btc.risk_eligible) == ("active", False)
    assert JournalEntry.objects.count() == actions_before
    assert RiskConfig.objects.get(user=risk_trader).last_evaluated_at == evaluated_at
    assert not Order.objects.filter(role="exit").exists()


def test_status_gives_the_reason_each_ineligible_position_cannot_be_the_loser(api, risk_trader, timers_started):
    blocked = PositionGroupFactory(
        user=risk_trader,
        exchange_account=risk_trader.account,
        symbol="BTC/USDT",
        timeframe=60,
        status="active",
        max_pyramids=1,
        pyramid_count=1,
        risk_blocked=True,
        unrealized_pnl_usd=D("-8"),
        unrealized_pnl_percent=D("-8"),
        total_filled_quantity=D("1"),
        weighted_avg_entry=D("100"),
        current_price=D("92"),
    )
    PyramidFactory(group=blocked, status="filled")
    filling = PositionGroupFactory(
        user=risk_trader,
        exchange_account=risk_trader.account,
        symbol="SOL/USDT",
        timeframe=60,
        status="partially_filled",
        max_pyramids=1,
        pyramid_count=1,
    )
    PyramidFactory(group=filling, status="submitted")
    waiting = PositionGroupFactory(
        user=risk_trader,
        exchange_account=risk_trader.account,
        symbol="ETH/USDT",
        timeframe=60,
        status="waiting",
        max_pyramids=1,
        pyramid_count=1,
    )
    PositionGroupFactory(
        user=risk_trader, exchange_account=risk_trader.account, symbol="ETH/USDT", timeframe=240, status="closed"
    )

    body = api.get("/api/v1/risk/status/").json()

    reasons = {p["id"]: p["reason"] for p in body["positions"]}
    assert reasons[str(blocked.pk)] == "blocked by the trader"
    assert reasons[str(filling.pk)] == "required pyramids are not completely filled"
    assert reasons[str(waiting.pk)] == "status is waiting"
    assert len(reasons) == 6  # the closed group is not listed
    assert body["loser"]["symbol"] == "BTC/USDT" and body["loser"]["timeframe"] == 15  # not the blocked −8 %


def test_status_with_no_positions(api):
    body = api.get("/api/v1/risk/status").json()

    assert (body["loser"], body["winners"], body["positions"]) == (None, [], [])
    assert (body["would_execute"], body["covers_loss"], body["reason"]) == (False, False, "no eligible loser")


def test_status_agrees_with_the_evaluation_that_follows(api, risk_trader, timers_started, run_evaluation):
    status = api.get("/api/v1/risk/status/").json()

    outcome = run_evaluation()

    assert outcome["executed"] is status["would_execute"] is True
    assert outcome["loser"] == {key: status["loser"][key] for key in outcome["loser"]}
    assert set(outcome["loser"]) == {"id", "exchange", "symbol", "timeframe", "side", "required_usd"}
    assert [(w["id"], w["quantity"], w["profit_usd"]) for w in outcome["winners"]] == [
        (w["id"], w["quantity"], w["profit_usd"]) for w in status["winners"]
    ]
    assert {p["id"]: p["reason"] for p in outcome["positions"]} == {p["id"]: p["reason"] for p in status["positions"]}


def test_status_says_when_the_winners_do_not_cover_the_loss(api, risk_trader, holding):
    holding("BTC/USDT", "10", "100", "90")  # −100 USD
    holding("SOL/USDT", "10", "50", "55")  # +50 USD
    RiskConfig.objects.filter(user=risk_trader).update(post_pyramids_wait_minutes=0)

    body = api.get("/api/v1/risk/status/").json()

    assert body["loser"]["required_usd"] == "100.000000000000"
    assert (body["covered_usd"], body["covers_loss"], body["would_execute"]) == ("50.000000000000", False, False)
    assert body["reason"] == "winners cover 50.00 of the 100.00 USD loss; waiting (allow_partial_offset is off)"


def test_status_never_downloads_a_market_list_inside_the_request(api, risk_trader, timers_started, network_tap):
    # The winners trade on a live account whose market list no worker has read lately.
    account = ExchangeAccount.objects.get(pk=risk_trader.account.pk)
    account.mode, account.api_key, account.api_secret = "live", "k-test", "s-test"
    account.save()
    forget_process_markets()
    cache.delete(markets_cache_key("binance", "live"))
    page = Client()
    page.force_login(risk_trader)

    response = api.get("/api/v1/risk/status/")
    risk_page = page.get("/risk/")

    assert network_tap == []  # neither request tried to reach binance
    assert response.status_code == 503
    assert response.json()["detail"].startswith(
        "The offset preview is unavailable: binance's market list is not loaded on this server right now"
    )
    assert risk_page.status_code == 200 and b"The offset preview is unavailable" in risk_page.content


def test_status_needs_authentication():
    assert APIClient().get("/api/v1/risk/status/").status_code in (401, 403)


# --- Run evaluation ------------------------------------------------------------------------------------


def test_run_evaluation_answers_202_and_evaluates_only_in_the_worker(
    api, risk_trader, timers_started, eager_celery, django_capture_on_commit_callbacks
):
    btc, _, _ = timers_started
    actions = JournalEntry.objects.count()

    with django_capture_on_commit_callbacks() as handed_over:
        response = api.post("/api/v1/risk/run-evaluation/")

    assert response.status_code == 202 and response.json()["kind"] == "risk_evaluation"
    btc.refresh_from_db()
    assert (btc.status, btc.risk_eligible) == ("active", False)  # no timer marked, nothing closed yet
    assert JournalEntry.objects.count() == actions and not Order.objects.filter(role="exit").exists()

    with django_capture_on_commit_callbacks(execute=True):
        for callback in handed_over:
            callback()

    job = api.get(response.json()["url"]).json()
    assert (job["status"], job["message"]) == (
        "succeeded",
        "Offset executed: closing the loser, then reducing 1 winner(s).",
    )
    assert PositionGroup.objects.get(pk=btc.pk).status == "closed"


def test_run_evaluation_executes_the_reference_offset(risk_trader, timers_started, run_evaluation):
    btc, eth, sol = timers_started

    body = run_evaluation()

    assert (body["executed"], body["reason"]) == (True, "offset executed")
    assert (body["loser"]["id"], body["required_usd"], body["covered_usd"]) == (str(btc.pk), BTC_LOSS, BTC_LOSS)
    assert [(w["id"], w["symbol"], w["quantity"], w["profit_usd"]) for w in body["winners"]] == [
        (str(eth.pk), "ETH/USDT", "0.050000000000", "5.000000000000")
    ]
    assert body["timer_events"] == 1  # BTC's timer expired
    btc.refresh_from_db()
    eth.refresh_from_db()
    sol.refresh_from_db()
    assert (btc.status, btc.exit_reason, btc.realized_pnl_usd) == ("closed", "risk_offset", D("-5"))
    assert (eth.status, eth.total_filled_quantity, eth.realized_pnl_usd) == ("active", D("1.95"), D("5"))
    assert (sol.total_filled_quantity, sol.realized_pnl_usd) == (D("10"), 0)
    assert JournalEntry.objects.filter(kind="offset_loss", loser_group=btc, user=risk_trader).count() == 1


def test_run_evaluation_starts_timers_and_says_why_nothing_closed(risk_trader, reference_book, run_evaluation):
    btc, _, _ = reference_book

    body = run_evaluation()

    assert (body["executed"], body["reason"], body["loser"], body["winners"]) == (False, "no eligible loser", None, [])
    assert body["timer_events"] == 1
    assert by_symbol(body["positions"])["BTC/USDT"]["reason"] == "risk timer has not expired"
    btc.refresh_from_db()
    assert btc.risk_timer_start is not None and btc.status == "active"
    assert JournalEntry.objects.filter(kind="timer_started", group=btc).exists()
    assert not Order.objects.filter(role="exit").exists()


def test_run_evaluation_fails_and_changes_nothing_when_a_market_cannot_be_read(
    api, risk_trader, timers_started, monkeypatch, eager_celery, django_capture_on_commit_callbacks
):
    def unavailable(self, *, reload=False):
        raise RetryableError("binance is down for maintenance")

    monkeypatch.setattr(PaperConnector, "load_markets", unavailable)
    actions = JournalEntry.objects.count()

    job = run_job(api, "/api/v1/risk/run-evaluation/", django_capture_on_commit_callbacks)

    assert job["status"] == "failed" and job["result"] is None
    assert job["message"] == (
        "The exchange did not answer (binance is down for maintenance); nothing was changed: try again."
    )
    assert PositionGroup.objects.filter(status="active").count() == 3
    assert JournalEntry.objects.count() == actions


# --- Block / unblock / skip ----------------------------------------------------------------------------


def test_block_keeps_the_loser_open_and_unblock_lets_the_offset_run(api, risk_trader, timers_started, run_evaluation):
    btc, eth, _ = timers_started

    response = api.post(f"/api/v1/risk/{btc.pk}/block/")

    assert response.status_code == 200
    assert response.json()["risk_blocked"] is True and response.json()["id"] == str(btc.pk)
    assert response.json()["unrealized_pnl_percent"] == "-5.000000000000"
    assert PositionGroup.objects.get(pk=btc.pk).risk_blocked
    block = JournalEntry.objects.get(kind="manual_block")
    assert (block.group_id, block.user_id) == (btc.pk, risk_trader.pk) and "blocked by the trader" in block.summary
    api.post(f"/api/v1/risk/{btc.pk}/block")  # a repeat changes nothing
    assert JournalEntry.objects.filter(kind="manual_block").count() == 1

    blocked = run_evaluation()
    assert not blocked["executed"] and by_symbol(blocked["positions"])["BTC/USDT"]["reason"] == "blocked by the trader"
    assert PositionGroup.objects.get(pk=btc.pk).status == "active"
    assert PositionGroup.objects.get(pk=eth.pk).total_filled_quantity == D("2")

    response = api.post(f"/api/v1/risk/{btc.pk}/unblock/")
    assert response.status_code == 200 and response.json()["risk_blocked"] is False
    assert JournalEntry.objects.filter(kind="manual_unblock", group=btc).count() == 1

    assert run_evaluation()["executed"]
    assert PositionGroup.objects.get(pk=btc.pk).status == "closed"


def test_skip_passes_over_the_loser_once(api, timers_started, run_evaluation):
    btc, _, _ = timers_started

    response = api.post(f"/api/v1/risk/{btc.pk}/skip/")

    assert response.status_code == 200 and response.json()["risk_skip_once"] is True
    assert JournalEntry.objects.filter(kind="manual_skip", group=btc).count() == 1
    status = api.get("/api/v1/risk/status/").json()
    assert status["loser"] is None
    assert by_symbol(status["positions"])["BTC/USDT"]["reason"] == "skipped once by the trader"

    skipped = run_evaluation()
    assert not skipped["executed"]
    assert by_symbol(skipped["positions"])["BTC/USDT"]["reason"] == "skipped once by the trader"
    assert PositionGroup.objects.get(pk=btc.pk).risk_skip_once is False  # consumed by that evaluation

    assert run_evaluation()["executed"]


def test_unblocking_a_position_that_is_not_blocked_changes_nothing(api, timers_started):
    btc, _, _ = timers_started

    response = api.post(f"/api/v1/risk/{btc.pk}/unblock/")

    assert response.status_code == 200 and response.json()["risk_blocked"] is False
    assert not JournalEntry.objects.filter(kind="manual_unblock").exists()


@pytest.mark.parametrize("status", ["closed", "failed"])
@pytest.mark.parametrize("control", ["block", "unblock", "skip"])
def test_controls_refuse_a_closed_or_failed_position(api, risk_trader, status, control):
    group = PositionGroupFactory(
        user=risk_trader, exchange_account=risk_trader.account, status=status, risk_blocked=control == "unblock"
    )

    response = api.post(f"/api/v1/risk/{group.pk}/{control}/")

    assert response.status_code == 409
    assert f"is {status}" in response.json()["detail"]
    group.refresh_from_db()
    assert (group.risk_blocked, group.risk_skip_once) == (control == "unblock", False)
    assert not JournalEntry.objects.exists()


# --- Ownership -----------------------------------------------------------------------------------------


def test_another_trader_cannot_see_or_touch_the_positions(
    risk_trader, timers_started, run_evaluation, django_capture_on_commit_callbacks
):
    btc, _, _ = timers_started
    other = client_for(UserFactory(username="other"))
    actions = JournalEntry.objects.count()

    for control in ("block", "unblock", "skip"):
        assert other.post(f"/api/v1/risk/{btc.pk}/{control}/").status_code == 404
    status = other.get("/api/v1/risk/status/").json()
    evaluation = run_job(other, "/api/v1/risk/run-evaluation/", django_capture_on_commit_callbacks)["result"]
    listed = other.get("/api/v1/risk/actions/").json()
    about_btc = other.get(f"/api/v1/risk/actions/?group={btc.pk}").json()
    detail = other.get(f"/api/v1/risk/actions/{JournalEntry.objects.filter(user=risk_trader).first().pk}/")
    synced = run_job(other, "/api/v1/risk/sync-exchange/", django_capture_on_commit_callbacks)["result"]

    assert (status["loser"], status["positions"]) == (None, [])
    assert (evaluation["executed"], evaluation["positions"]) == (False, [])
    assert (listed["count"], about_btc["count"], detail.status_code) == (0, 0, 404)
    assert synced == {"accounts": []}
    btc.refresh_from_db()
    assert (btc.status, btc.risk_blocked, btc.risk_skip_once, btc.risk_eligible) == ("active", False, False, False)
    assert JournalEntry.objects.count() == actions
    assert run_evaluation()["executed"]  # the owner's offset is still there to run


def test_an_id_that_is_not_a_position_answers_404(api):
    assert api.post("/api/v1/risk/not-a-uuid/block/").status_code == 404
    assert api.post("/api/v1/risk/00000000-0000-0000-0000-000000000000/block/").status_code == 404


# --- Sync exchange -------------------------------------------------------------------------------------


def test_sync_exchange_picks_up_a_fill_made_on_the_paper_exchange(route, trader, django_capture_on_commit_callbacks):
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("101"))  # above the grid: all legs rest
    group = route(entry_price="100").position_group
    assert Order.objects.filter(group=group, status="open").count() == 5
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("99.2"))  # the exchange fills 100 and 99.50

    job = run_job(client_for(trader), "/api/v1/risk/sync-exchange/", django_capture_on_commit_callbacks)

    assert job["status"] == "succeeded"
    [account] = job["result"]["accounts"]
    assert (account["exchange"], account["mode"], account["ok"], account["error"]) == ("binance", "paper", True, "")
    assert account["symbols"] == [{"symbol": "BTC/USDT", "groups_changed": 1, "error": ""}]
    assert account["symbols_priced"] == 1
    filled = Order.objects.filter(group=group, role="entry", status="filled")
    assert sorted(filled.values_list("price", flat=True)) == [D("99.50"), D("100.00")]
    group.refresh_from_db()
    assert (group.status, group.filled_dca_legs, group.current_price) == ("partially_filled", 2, D("99.2"))
    assert group.total_filled_quantity == sum(filled.values_list("filled_quantity", flat=True))
    assert group.unrealized_pnl_usd < 0
    assert Order.objects.filter(group=group, role="take_profit").count() == 2  # placed for the filled legs


def test_sync_exchange_reports_an_exchange_failure_instead_of_failing(
    route, trader, monkeypatch, django_capture_on_commit_callbacks
):
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("101"))
    group = route(entry_price="100").position_group
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("99.2"))

    def down(self, *args, **kwargs):
        raise RetryableError("binance GET /api/v3/openOrders 503 Service Unavailable")

    monkeypatch.setattr(PaperConnector, "fetch_open_orders", down)
    monkeypatch.setattr(PaperConnector, "tickers", down)

    job = run_job(client_for(trader), "/api/v1/risk/sync-exchange/", django_capture_on_commit_callbacks)

    assert job["status"] == "failed" and "503 Service Unavailable" in job["message"]
    [account] = job["result"]["accounts"]
    assert account["ok"] is False
    assert account["symbols"][0]["symbol"] == "BTC/USDT" and "503 Service Unavailable" in account["symbols"][0]["error"]
    assert account["error"].startswith("Prices could not be read") and "503" in account["error"]
    assert not Order.objects.filter(group=group, status="filled").exists()  # nothing half-applied


def test_sync_exchange_skips_disabled_accounts(api, risk_trader, eager_celery, django_capture_on_commit_callbacks):
    ExchangeAccount.objects.filter(user=risk_trader).update(is_enabled=False)

    job = run_job(api, "/api/v1/risk/sync-exchange/", django_capture_on_commit_callbacks)

    assert (job["status"], job["result"]) == ("succeeded", {"accounts": []})


# --- Actions -------------------------------------------------------------------------------------------


def test_actions_are_listed_newest_first_and_filtered_by_type_and_position(
    api, risk_trader, timers_started, run_evaluation
):
    btc, eth, sol = timers_started
    api.post(f"/api/v1/risk/{sol.pk}/block/")
    run_evaluation()

    everything = api.get("/api/v1/risk/actions/").json()

    assert set(everything) == {"count", "next", "previous", "results"}
    types = [row["action_type"] for row in everything["results"]]
    assert types == ["close", "offset_loss", "timer_expired", "manual_block", "timer_started"]
    close, offset = everything["results"][:2]
    assert (close["group"], close["exit_reason"]) == (str(btc.pk), "risk_offset")  # the loser's close record
    assert (offset["group"], offset["loser_group"], offset["symbol"], offset["required_usd"]) == (
        str(btc.pk),
        str(btc.pk),
        "BTC/USDT",
        BTC_LOSS,
    )
    assert offset["winner_details"] == [
        {"group_id": str(eth.pk), "symbol": "ETH/USDT", "quantity_closed": "0.05", "pnl_usd": "5", "price": "2100"}
    ]

    timers = api.get("/api/v1/risk/actions/?action_type=timer_started,timer_expired").json()
    assert [row["action_type"] for row in timers["results"]] == ["timer_expired", "timer_started"]
    about_eth = api.get(f"/api/v1/risk/actions/?group={eth.pk}").json()
    assert [row["action_type"] for row in about_eth["results"]] == ["offset_loss"]  # reduced as a winner
    about_sol = api.get(f"/api/v1/risk/actions/?group={sol.pk}").json()
    assert [row["action_type"] for row in about_sol["results"]] == ["manual_block"]
    assert api.get(f"/api/v1/risk/actions/{offset['id']}/").json()["id"] == offset["id"]


def test_actions_refuse_unknown_filters(api):
    response = api.get("/api/v1/risk/actions/?action_type=offset")
    assert response.status_code == 400 and "Unknown action_type 'offset'" in response.json()["action_type"][0]
    assert api.get("/api/v1/risk/actions/?group=btc").status_code == 400
