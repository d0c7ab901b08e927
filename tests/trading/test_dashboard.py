"""The server-rendered dashboard: what a trader sees on each page and what its buttons change."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from risk.services import exchange_accounts_sync
from tests.factories import PositionGroupFactory, UserFactory, queued_entry
from trading.alerts import alert_template
from trading.models import JournalEntry, Order, PositionGroup, QueuedSignal, RiskConfig, Signal
from trading.states import GroupStatus
from trading.views import SIGNALS_SHOWN

PAGES = ["overview", "queue", "risk", "signals", "settings", "partial-positions", "partial-engine", "partial-pool"]


@pytest.fixture
def position(route):
    """An open BTC/USDT long with its grid resting on the paper exchange."""
    signal = route()
    assert signal.position_group is not None, signal.reason
    return signal.position_group


# --- Access ---------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name", PAGES)
def test_anonymous_is_sent_to_login(client, name):
    response = client.get(reverse(name))

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/?next=")


@pytest.mark.django_db
def test_anonymous_position_page_and_forms_are_sent_to_login(client):
    group_id = uuid.uuid4()
    for url in (reverse("position-detail", args=[group_id]), reverse("position-close", args=[group_id])):
        assert client.get(url).url.startswith("/accounts/login/")
    assert client.post(reverse("engine-stop")).url.startswith("/accounts/login/")


@pytest.mark.django_db
def test_login_page_logs_a_trader_in_and_logout_is_a_post(client):
    UserFactory(username="alice", password="s3cret-pass")
    page = client.get(reverse("login"))
    assert page.status_code == 200 and b"csrfmiddlewaretoken" in page.content

    response = client.post(reverse("login"), {"username": "alice", "password": "s3cret-pass"})
    assert response.status_code == 302 and response.url == "/"
    assert client.get("/").status_code == 200

    assert client.get(reverse("logout")).status_code == 405  # logging out is a POST form, never a link
    logout = client.post(reverse("logout"))
    assert logout.status_code == 302 and logout.url == reverse("login")
    assert client.get("/").status_code == 302


def test_forms_refuse_a_post_without_csrf_token(trader, position):
    client = Client(enforce_csrf_checks=True)
    client.force_login(trader)

    response = client.post(reverse("engine-stop"))

    assert response.status_code == 403
    assert not RiskConfig.objects.filter(user=trader, engine_force_stopped=True).exists()


def test_another_users_position_answers_404(trader, position):
    intruder = Client()
    intruder.force_login(UserFactory())

    assert intruder.get(reverse("position-detail", args=[position.pk])).status_code == 404
    assert intruder.get(reverse("position-close", args=[position.pk])).status_code == 404
    assert intruder.post(reverse("position-close", args=[position.pk])).status_code == 404
    assert intruder.post(reverse("risk-control", args=[position.pk, "block"])).status_code == 404
    position.refresh_from_db()
    assert position.status != GroupStatus.CLOSING and not position.risk_blocked


# --- Overview -------------------------------------------------------------------------------------


def test_overview_lists_open_positions_pool_usage_and_engine_state(trader_client, position):
    position.refresh_from_db()

    response = trader_client.get("/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "BTC/USDT" in page
    assert reverse("position-detail", args=[position.pk]) in page
    assert f"{position.filled_dca_legs}/{position.total_dca_legs}" in page
    assert "1 / 10" in page  # open positions vs the pool's default maximum
    assert "running" in page and "Stop engine" in page
    assert 'hx-get="/partials/positions/"' in page


def test_overview_shows_realised_pnl_today_and_per_day(trader_client, trader):
    account = trader.exchange_accounts.get()
    now = timezone.now()
    PositionGroupFactory(
        user=trader, exchange_account=account, status=GroupStatus.CLOSED, closed_at=now, realized_pnl_usd=Decimal("25")
    )
    PositionGroupFactory(
        user=trader,
        exchange_account=account,
        symbol="ETH/USDT",
        status=GroupStatus.CLOSED,
        closed_at=now - timedelta(days=2),
        realized_pnl_usd=Decimal("-10"),
    )

    page = trader_client.get("/").content.decode()

    assert "25.00 USD" in page  # today's stat and today's bar
    assert f"{(now - timedelta(days=2)).date():%Y-%m-%d}: -10.00 USD" in page
    assert page.count("<rect ") == 2


@pytest.mark.django_db
def test_overview_of_a_new_trader_shows_the_webhook_url(client):
    newcomer = UserFactory()
    client.force_login(newcomer)

    page = client.get("/").content.decode()

    assert "No positions yet" in page
    assert newcomer.webhook_url in page
    # The polled fragment carries the same welcome, and drops it once the first position exists.
    fragment = client.get(reverse("partial-positions")).content.decode()
    assert "No positions yet" in fragment and newcomer.webhook_url in fragment


def test_the_polled_positions_fragment_drops_the_welcome_once_a_position_exists(trader_client, position):
    fragment = trader_client.get(reverse("partial-positions")).content.decode()

    assert "No positions yet" not in fragment and "BTC/USDT" in fragment


def test_the_position_status_reason_and_close_button_refresh_with_the_fragment(trader_client, position):
    fragment = trader_client.get(reverse("partial-position", args=[position.pk])).content.decode()

    assert "Close position…" in fragment
    assert position.status_reason and position.status_reason in fragment


def test_averages_are_shown_to_eight_significant_digits():
    from decimal import Decimal

    from trading.templatetags.dashboard import rounded

    assert rounded(Decimal("99.74937655860349127")) == "99.749377"
    assert rounded(Decimal("60000.123456")) == "60000.123"
    assert rounded(Decimal("0.000012345678912")) == "0.000012345679"
    assert rounded(Decimal("99.200000")) == "99.2"
    assert (rounded(Decimal("0")), rounded(None)) == ("0", "—")


def test_partials_return_only_the_fragment(trader_client, position):
    positions = trader_client.get(reverse("partial-positions")).content.decode()
    engine = trader_client.get(reverse("partial-engine")).content.decode()

    assert "BTC/USDT" in positions and "<html" not in positions
    assert positions.lstrip().startswith('<div id="positions"')
    assert "running" in engine and "<html" not in engine
    assert engine.lstrip().startswith('<div id="engine-state"')


def test_pool_partial_counts_open_positions_and_exposure(trader_client, position):
    fragment = trader_client.get(reverse("partial-pool")).content.decode()

    assert fragment.lstrip().startswith('<div id="pool"')
    assert "1 / 10" in fragment and "1000.00 / 10000.00 USD" in fragment  # one pyramid of 1000 USD committed


def test_position_partial_returns_the_live_ladder(trader_client, position):
    fragment = trader_client.get(reverse("partial-position", args=[position.pk])).content.decode()

    assert "<html" not in fragment and 'id="position-live"' in fragment
    assert "Pyramid 1" in fragment and "1/5" in fragment


def test_position_partial_shows_a_leg_filled_after_the_price_moves(
    trader_client, trader, position, eager_celery, django_capture_on_commit_callbacks
):
    second_leg = Order.objects.get(group=position, role=Order.Role.ENTRY, leg_index=1)

    with django_capture_on_commit_callbacks(execute=True):
        call_command("paper", "price", "binance", "BTC/USDT", str(second_leg.price))
        exchange_accounts_sync(user=trader)  # what the next fill-sync beat does

    fragment = trader_client.get(reverse("partial-position", args=[position.pk])).content.decode()
    second_leg.refresh_from_db()
    assert second_leg.status == "filled"
    assert "2/5" in fragment
    assert "Pyramid 1 leg 1 filled" in fragment and "Pyramid 1 leg 2 filled" in fragment  # the timeline


def test_partial_polled_after_logout_sends_the_page_to_login(client):
    response = client.get(reverse("partial-positions"), headers={"HX-Request": "true"})

    assert response.status_code == 204
    assert response["HX-Redirect"].startswith("/accounts/login/")


def test_another_users_position_partial_answers_404(trader, position):
    intruder = Client()
    intruder.force_login(UserFactory())

    assert intruder.get(reverse("partial-position", args=[position.pk])).status_code == 404


def test_stop_and_start_buttons_switch_the_engine(trader_client, trader):
    response = trader_client.post(reverse("engine-stop"))

    assert response.status_code == 302
    assert RiskConfig.objects.get(user=trader).engine_force_stopped
    assert JournalEntry.objects.filter(user=trader, kind=JournalEntry.Kind.FORCE_STOP).count() == 1
    assert "force-stopped" in trader_client.get(reverse("partial-engine")).content.decode()

    trader_client.post(reverse("engine-start"))

    assert not RiskConfig.objects.get(user=trader).engine_force_stopped
    assert JournalEntry.objects.filter(user=trader, kind=JournalEntry.Kind.FORCE_START).count() == 1


def test_engine_paused_by_loss_limit_is_shown(trader_client, trader):
    RiskConfig.objects.update_or_create(user=trader, defaults={"engine_paused_by_loss_limit": True})

    fragment = trader_client.get(reverse("partial-engine")).content.decode()

    assert "paused by loss limit" in fragment and "daily loss limit" in fragment


def test_engine_buttons_refuse_get(trader_client, trader):
    assert trader_client.get(reverse("engine-stop")).status_code == 405
    assert not RiskConfig.objects.filter(user=trader, engine_force_stopped=True).exists()


# --- Position -------------------------------------------------------------------------------------


def test_position_page_shows_each_pyramids_legs(trader_client, position):
    legs = list(Order.objects.filter(group=position, role=Order.Role.ENTRY).order_by("leg_index"))

    response = trader_client.get(reverse("position-detail", args=[position.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert "BTC/USDT" in page and "Pyramid 1" in page
    assert len(legs) > 1
    for leg in legs:
        assert f"{leg.price.normalize():f}" in page
    assert reverse("position-close", args=[position.pk]) in page


def test_close_asks_for_confirmation_then_closes(trader_client, position):
    confirm = trader_client.get(reverse("position-close", args=[position.pk]))
    assert confirm.status_code == 200 and b"Yes, close the position" in confirm.content
    position.refresh_from_db()
    assert position.status != GroupStatus.CLOSING  # showing the confirmation changes nothing

    response = trader_client.post(reverse("position-close", args=[position.pk]))

    assert response.status_code == 302
    position.refresh_from_db()
    assert position.status == GroupStatus.CLOSING
    assert position.exit_reason == "manual"


def test_closing_a_closed_position_changes_nothing(trader_client, trader):
    closed = PositionGroupFactory(
        user=trader,
        exchange_account=trader.exchange_accounts.get(),
        status=GroupStatus.CLOSED,
        closed_at=timezone.now(),
    )

    response = trader_client.post(reverse("position-close", args=[closed.pk]), follow=True)

    closed.refresh_from_db()
    assert closed.status == GroupStatus.CLOSED
    assert b"nothing to close" in response.content


# --- Queue, risk, signals -----------------------------------------------------------------------------


def _queued_entry(user) -> QueuedSignal:
    return queued_entry(user, entry_price=Decimal("2500"), status_reason="Pool full: 10 of 10 open.")


def test_queue_page_lists_waiting_entries(trader_client, trader):
    entry = _queued_entry(trader)

    page = trader_client.get(reverse("queue")).content.decode()

    assert "ETH/USDT" in page and "2500" in page and "Pool full: 10 of 10 open." in page
    assert reverse("queue-remove", args=[entry.pk]) in page


def test_remove_button_takes_the_entry_off_the_queue(trader_client, trader):
    entry = _queued_entry(trader)

    trader_client.post(reverse("queue-remove", args=[entry.pk]))

    entry.refresh_from_db()
    entry.signal.refresh_from_db()
    assert entry.status == QueuedSignal.Status.CANCELLED
    assert entry.signal.status == Signal.Status.IGNORED


def test_another_users_queue_entry_answers_404(trader, client):
    entry = _queued_entry(trader)
    client.force_login(UserFactory())

    assert client.post(reverse("queue-remove", args=[entry.pk])).status_code == 404
    entry.refresh_from_db()
    assert entry.status == QueuedSignal.Status.QUEUED


def test_queue_page_of_a_new_trader_says_it_is_empty(trader_client):
    assert b"The queue is empty" in trader_client.get(reverse("queue")).content


def test_risk_page_shows_positions_with_controls_and_history(trader_client, position):
    response = trader_client.get(reverse("risk"))

    page = response.content.decode()
    assert response.status_code == 200
    assert "BTC/USDT" in page and "Loss threshold" in page and "no eligible loser" in page.lower()
    assert reverse("risk-control", args=[position.pk, "block"]) in page
    assert "The risk engine has not acted yet" in page


@pytest.mark.parametrize(
    ("control", "flag", "action_type"),
    [
        ("block", "risk_blocked", JournalEntry.Kind.MANUAL_BLOCK),
        ("skip", "risk_skip_once", JournalEntry.Kind.MANUAL_SKIP),
    ],
)
def test_risk_buttons_set_the_flag_with_an_audit_row(trader_client, trader, position, control, flag, action_type):
    response = trader_client.post(reverse("risk-control", args=[position.pk, control]))

    assert response.status_code == 302
    position.refresh_from_db()
    assert getattr(position, flag) is True
    assert JournalEntry.objects.filter(user=trader, group=position, kind=action_type).count() == 1
    assert JournalEntry.Kind(action_type).label in trader_client.get(reverse("risk")).content.decode()


def test_unblock_button_lifts_the_block(trader_client, position):
    trader_client.post(reverse("risk-control", args=[position.pk, "block"]))

    trader_client.post(reverse("risk-control", args=[position.pk, "unblock"]))

    position.refresh_from_db()
    assert position.risk_blocked is False


def test_unknown_risk_control_is_404(trader_client, position):
    assert trader_client.post(reverse("risk-control", args=[position.pk, "close-all"])).status_code == 404


def test_signals_page_shows_rejected_alerts_with_reason_and_payload(trader_client, trader, position):
    Signal.objects.create(
        user=trader,
        status=Signal.Status.REJECTED,
        http_status=422,
        tv_symbol="SOLUSDT",
        reason="Unreplaced placeholder in tv.entry_price: {{strategy.order.price}}",
        payload={"tv": {"symbol": "SOLUSDT", "entry_price": "{{strategy.order.price}}"}},
    )

    page = trader_client.get(reverse("signals") + "?show=all").content.decode()

    assert "Unreplaced placeholder in tv.entry_price" in page
    assert "SOLUSDT" in page and "HTTP 422" in page
    assert "&quot;entry_price&quot;" in page  # the payload, escaped, in the viewer
    assert "Opened" in page  # the routed alert that opened the position
    assert trader.webhook_secret not in page


def test_junk_posted_to_a_traders_url_does_not_push_their_alerts_off_the_signals_page(
    trader_client, trader, position, settings
):
    settings.WEBHOOK_REFUSALS_KEPT_PER_USER_PER_HOUR = 0  # every refusal stored: more than a page of them
    attacker = Client(REMOTE_ADDR="203.0.113.66")  # knows the URL, not the secret
    for n in range(SIGNALS_SHOWN + 10):
        attacker.post(f"/webhooks/{trader.pk}/tradingview", data=f"junk {n}", content_type="text/plain")
    assert Signal.objects.filter(user=trader, http_status=400).count() == SIGNALS_SHOWN + 10

    page = trader_client.get(reverse("signals")).content.decode()

    assert "Opened" in page and "BTC/USDT" in page  # the alert that opened the position
    assert "junk" not in page and "HTTP 400" not in page
    assert "were refused in the last 24 hours" in page and "?show=refused" in page
    refused = trader_client.get(reverse("signals") + "?show=refused").content.decode()
    assert refused.count("HTTP 400") == SIGNALS_SHOWN and "junk 209" in refused and "Opened" not in refused


def test_signals_page_without_refusals_says_nothing_about_them(trader_client, trader, position):
    page = trader_client.get(reverse("signals")).content.decode()
    refused = trader_client.get(reverse("signals") + "?show=refused").content.decode()

    assert "Opened" in page and "were refused" not in page
    assert "No request to your webhook URL was refused." in refused


# --- Settings -----------------------------------------------------------------------------------------


def test_settings_page_shows_webhook_url_and_ready_alert_message(trader_client, trader):
    page = trader_client.get(reverse("settings")).content.decode()

    assert trader.webhook_url in page
    assert str(trader.pk) in page and trader.webhook_secret in page
    assert "{{strategy.order.action}}" in page and "{{ticker}}" in page
    assert "binance" in page and "BTC/USDT" in page  # exchange account and DCA configuration lists
    assert 'data-copy="webhook-url"' in page
    assert "Not configured." in page  # Telegram


def test_settings_warns_when_tradingview_cannot_reach_the_webhook_url_and_says_how(trader_client, settings):
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"  # make run's default

    page = trader_client.get(reverse("settings")).content.decode()

    assert "TradingView cannot use this URL" in page
    assert "this machine only" in page and "Port 8000" in page and "PUBLIC_BASE_URL" in page
    assert "docs/deployment.md" in page


def test_settings_says_nothing_for_a_public_https_url(trader_client, settings):
    settings.PUBLIC_BASE_URL = "https://engine.example.com"

    page = trader_client.get(reverse("settings")).content.decode()

    assert "https://engine.example.com/webhooks/" in page
    assert "TradingView cannot use this URL" not in page


def test_rotate_button_gives_a_new_secret(trader_client, trader):
    old_secret = trader.webhook_secret

    response = trader_client.post(reverse("rotate-secret"), follow=True)

    trader.refresh_from_db()
    assert trader.webhook_secret != old_secret
    page = response.content.decode()
    assert trader.webhook_secret in page and old_secret not in page


def test_telegram_test_button_without_configuration_says_what_to_do(trader_client):
    response = trader_client.post(reverse("telegram-test"), follow=True)

    assert b"Set the bot token and channel id first." in response.content


def test_no_page_lists_another_traders_positions(trader_client, trader, position):
    other = PositionGroupFactory(symbol="DOGE/USDT", status=GroupStatus.LIVE)
    assert PositionGroup.objects.filter(pk=other.pk).exists()

    for name in ("overview", "risk", "partial-positions"):
        assert b"DOGE/USDT" not in trader_client.get(reverse(name)).content


# --- Cost ---------------------------------------------------------------------------------------------


def _queries(client, url) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_overview_and_risk_queries_do_not_grow_with_positions(trader_client, trader, route):
    route()
    one = {name: _queries(trader_client, reverse(name)) for name in ("overview", "partial-positions", "signals")}

    route(symbol="ETHUSDT")
    two = {name: _queries(trader_client, reverse(name)) for name in ("overview", "partial-positions", "signals")}

    assert one == two


def test_position_page_queries_do_not_grow_with_legs(
    trader_client, trader, position, eager_celery, django_capture_on_commit_callbacks
):
    url = reverse("position-detail", args=[position.pk])
    before = _queries(trader_client, url)

    with django_capture_on_commit_callbacks(execute=True):
        call_command("paper", "price", "binance", "BTC/USDT", "98")
        exchange_accounts_sync(user=trader)

    assert _queries(trader_client, url) == before


@pytest.mark.django_db
def test_page_queries_do_not_grow_with_the_book():
    """The benchmark's book (tests/bench/pages.py) at 20 and at 100 groups: same queries on every page."""
    from tests.bench.pages import book_add, count_queries, pages, traders_create

    traders = traders_create("queries-", 3)
    book_add(traders, groups=20, orders=400)
    client = Client()
    client.force_login(traders[0])
    small = {name: count_queries(client, url) for name, url in pages(traders[0]).items()}

    book_add(traders, groups=80, orders=1600)
    large = {name: count_queries(client, url) for name, url in pages(traders[0]).items()}

    assert PositionGroup.objects.filter(user=traders[0]).count() == 85
    assert Order.objects.filter(group__user__in=traders).count() > 1900  # about 20 per group
    assert small == large


def test_the_alert_message_from_settings_is_accepted_by_the_webhook(trader):
    """What TradingView sends once it has filled the template's placeholders."""
    filled = {
        "{{timenow}}": timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "{{exchange}}": "BINANCE",
        "{{ticker}}": "BTCUSDT",
        "{{interval}}": "15",
        "{{strategy.order.action}}": "buy",
        "{{strategy.market_position}}": "long",
        "{{strategy.market_position_size}}": "2",
        "{{strategy.prev_market_position}}": "flat",
        "{{strategy.prev_market_position_size}}": "0",
        "{{strategy.order.price}}": "100",
        "{{close}}": "100",
        "{{strategy.order.contracts}}": "2",
        "{{strategy.order.id}}": "Long",
        "{{strategy.order.alert_message}}": "",
    }
    body = alert_template(trader)
    for placeholder, value in filled.items():
        body = body.replace(placeholder, value)
    web = Client(REMOTE_ADDR=f"198.19.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}")

    response = web.post(f"/webhooks/{trader.pk}/tradingview", data=body, content_type="text/plain")

    assert response.status_code == 202, response.content
    signal = Signal.objects.get(pk=response.json()["signal_id"])
    assert signal.user == trader and "secret" not in signal.payload
