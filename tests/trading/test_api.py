"""The trading API: positions (shape, filters, close), orders, signals, the queue and DCA configurations.

Every object is the owner's alone: another user's id answers 404 and changes nothing.
"""

from datetime import UTC
from decimal import Decimal
from functools import partial

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from exchanges.models import PaperOrder
from exchanges.paper.services import paper_price_set
from tests.api_client import client_for
from tests.factories import (
    DCAConfigurationFactory,
    ExchangeAccountFactory,
    OrderFactory,
    PositionGroupFactory,
    PyramidFactory,
    UserFactory,
)
from trading.models import DCAConfiguration, JournalEntry, Order, PositionGroup, QueuedSignal, RiskConfig, Signal

pytestmark = pytest.mark.django_db
D = Decimal

GROUP_FIELDS = {
    "id",
    "exchange",
    "exchange_account",
    "symbol",
    "timeframe",
    "side",
    "status",
    "status_reason",
    "pyramid_count",
    "max_pyramids",
    "replacement_count",
    "total_dca_legs",
    "filled_dca_legs",
    "base_entry_price",
    "weighted_avg_entry",
    "total_invested_usd",
    "total_filled_quantity",
    "current_price",
    "unrealized_pnl_usd",
    "unrealized_pnl_percent",
    "realized_pnl_usd",
    "tp_mode",
    "tp_aggregate_percent",
    "stop_loss_price",
    "liquidation_price",  # swap accounts: as the exchange last reported it
    "margin_ratio",
    "positions_synced_at",
    "risk_timer_start",
    "risk_timer_expires",
    "risk_eligible",
    "risk_blocked",
    "risk_skip_once",
    "exit_reason",
    "created_at",
    "updated_at",
    "closed_at",
    "pyramids",
    "exit_orders",
    "quote_currency",
    "quote_usd_rate",
    "fees_usd",
    "funding_pnl_usd",
    "dust_quantity",
    "dust_value",
    "oversold_quantity",
}
PYRAMID_FIELDS = {"index", "entry_price", "status", "capital_usd", "orders"}
ORDER_FIELDS = {
    "id",
    "role",
    "leg_index",
    "side",
    "order_type",
    "price",
    "quantity",
    "status",
    "filled_quantity",
    "avg_fill_price",
    "tp_price",
    "client_order_id",
    "exchange_order_id",
    "exit_reason",
    "error_message",
    "created_at",
}


@pytest.fixture
def api(user):
    return client_for(user)


@pytest.fixture
def stranger(db):
    return UserFactory(username="stranger")


def position(user, *, pyramids=2, legs=3, **fields) -> PositionGroup:
    """A long BTC/USDT group: ``pyramids`` pyramids of ``legs`` entry legs, leg 0 filled with its take-profit
    resting, and one market exit order of the whole group."""
    account = user.exchange_accounts.first() or ExchangeAccountFactory(user=user)
    group = PositionGroupFactory(
        user=user,
        exchange_account=account,
        pyramid_count=pyramids,
        total_dca_legs=pyramids * legs,
        filled_dca_legs=pyramids,
        weighted_avg_entry=D("99.5"),
        total_filled_quantity=D("4"),
        total_invested_usd=D("398"),
        **fields,
    )
    order = partial(OrderFactory, group=group, symbol=group.symbol)
    for index in range(pyramids):
        pyramid = PyramidFactory(group=group, index=index, entry_price=D("100") - index, status="partially_filled")
        for leg in range(legs):
            price = pyramid.entry_price * (1 - D("0.005") * leg)
            filled = leg == 0
            entry = order(
                pyramid=pyramid,
                leg_index=leg,
                price=price,
                quantity=D("2.000"),
                tp_price=price * D("1.02"),
                status="filled" if filled else "open",
                filled_quantity=D("2.000") if filled else 0,
                avg_fill_price=price if filled else None,
                exchange_order_id=f"ex-{index}-{leg}",
            )
            if filled:
                order(
                    pyramid=pyramid,
                    role="take_profit",
                    leg_index=None,
                    entry_order=entry,
                    side="sell",
                    price=price * D("1.02"),
                    quantity=D("2.000"),
                    status="open",
                )
    order(
        pyramid=None,
        role="exit",
        leg_index=None,
        side="sell",
        order_type="market",
        price=None,
        quantity=D("1.000"),
        status="cancelled",
        exit_reason="reduce",
    )
    return group


# --- Positions ---------------------------------------------------------------------------------


def test_position_detail_nests_pyramids_with_their_orders_and_lists_exits_apart(api, user):
    group = position(user, pyramids=2, legs=3)

    body = api.get(f"/api/v1/positions/{group.pk}/").json()

    assert set(body) == GROUP_FIELDS
    assert (body["id"], body["symbol"], body["side"], body["pyramid_count"], body["total_dca_legs"]) == (
        str(group.pk),
        "BTC/USDT",
        "long",
        2,
        6,
    )
    # Decimals are strings, with the column's 12 places.
    assert (body["base_entry_price"], body["weighted_avg_entry"], body["total_filled_quantity"]) == (
        "100.000000000000",
        "99.500000000000",
        "4.000000000000",
    )
    assert body["current_price"] is None and body["realized_pnl_usd"] == "0.000000000000"

    assert [p["index"] for p in body["pyramids"]] == [0, 1]
    first = body["pyramids"][0]
    assert PYRAMID_FIELDS <= set(first)
    assert (first["entry_price"], first["status"], first["capital_usd"]) == (
        "100.000000000000",
        "partially_filled",
        "1000.000000000000",
    )
    assert [(o["role"], o["leg_index"], o["price"], o["status"]) for o in first["orders"]] == [
        ("entry", 0, "100.000000000000", "filled"),
        ("take_profit", None, "102.000000000000", "open"),
        ("entry", 1, "99.500000000000", "open"),
        ("entry", 2, "99.000000000000", "open"),
    ]
    leg = first["orders"][0]
    assert ORDER_FIELDS <= set(leg)
    assert (
        leg["side"],
        leg["order_type"],
        leg["quantity"],
        leg["filled_quantity"],
        leg["avg_fill_price"],
        leg["tp_price"],
        leg["exchange_order_id"],
    ) == ("buy", "limit", "2.000000000000", "2.000000000000", "100.000000000000", "102.000000000000", "ex-0-0")
    assert leg["client_order_id"] == Order.objects.get(pk=leg["id"]).client_order_id

    assert [(o["role"], o["order_type"], o["price"], o["exit_reason"]) for o in body["exit_orders"]] == [
        ("exit", "market", None, "reduce")
    ]
    nested = {o["id"] for p in body["pyramids"] for o in p["orders"]}
    assert body["exit_orders"][0]["id"] not in nested


def test_position_list_is_paginated_newest_first_with_the_same_shape(api, user):
    older = position(user, pyramids=1, status="closed")
    newer = position(user, pyramids=1)

    body = api.get("/api/v1/positions/").json()

    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 2 and [g["id"] for g in body["results"]] == [str(newer.pk), str(older.pk)]
    assert set(body["results"][0]) == GROUP_FIELDS


def test_position_filters(api, user):
    account = ExchangeAccountFactory(user=user)
    live = PositionGroupFactory(user=user, exchange_account=account, status="live")
    active = PositionGroupFactory(user=user, exchange_account=account, status="active", symbol="ETH/USDT")
    closed = PositionGroupFactory(user=user, exchange_account=account, status="closed")
    bybit = PositionGroupFactory(
        user=user,
        exchange_account=ExchangeAccountFactory(user=user, exchange_id="bybit"),
        exchange="bybit",
        status="failed",
        symbol="SOL/USDT",
    )

    def ids(query):
        response = api.get(f"/api/v1/positions/?{query}")
        assert response.status_code == 200, response.json()
        return {g["id"] for g in response.json()["results"]}

    assert ids("status=open") == {str(live.pk), str(active.pk)}
    assert ids("status=active") == {str(active.pk)}  # the status itself, not "open"
    assert ids("status=closed,failed") == {str(closed.pk), str(bybit.pk)}
    assert ids("exchange=Bybit") == {str(bybit.pk)}
    assert ids("symbol=eth/usdt") == {str(active.pk)}
    assert ids("status=open&symbol=BTC/USDT") == {str(live.pk)}
    refused = api.get("/api/v1/positions/?status=running")
    assert refused.status_code == 400 and "Unknown status 'running'" in str(refused.json())


def test_position_filters_of_the_trade_history(api, user):
    """The dashboard's trade-history filters, on the API: account, side, exit reason, closing days."""
    from datetime import datetime

    account, bybit = ExchangeAccountFactory(user=user), ExchangeAccountFactory(user=user, exchange_id="bybit")
    user.time_zone = "America/New_York"  # UTC-5 in March
    user.save(update_fields=["time_zone"])

    def closed(day_hour, **fields):
        return PositionGroupFactory(
            user=user,
            exchange_account=fields.pop("account", account),
            status="closed",
            closed_at=datetime(2026, 3, *day_hour, tzinfo=UTC),
            **fields,
        )

    long_tp = closed((2, 12), exit_reason="take_profit")
    short_stop = closed((2, 12), side="short", exit_reason="stop_loss")
    on_bybit = closed((2, 12), account=bybit, exchange="bybit", exit_reason="take_profit")
    late = closed((3, 3), exit_reason="take_profit")  # 2 March, 22:00 in New York

    def ids(query):
        response = api.get(f"/api/v1/positions/?status=closed&{query}")
        assert response.status_code == 200, response.json()
        return {g["id"] for g in response.json()["results"]}

    assert ids(f"exchange_account={bybit.pk}") == {str(on_bybit.pk)}
    assert ids("side=short") == {str(short_stop.pk)}
    assert ids("exit_reason=take_profit&side=long") == {str(long_tp.pk), str(on_bybit.pk), str(late.pk)}
    assert ids("closed_from=2026-03-02&closed_to=2026-03-02") == {
        str(g.pk) for g in (long_tp, short_stop, on_bybit, late)
    }
    assert ids("closed_from=2026-03-03") == set()
    assert api.get("/api/v1/positions/?side=up").status_code == 400
    refused = api.get("/api/v1/positions/?closed_from=2-3-2026")
    assert refused.status_code == 400 and "use YYYY-MM-DD" in str(refused.json())
    assert api.get(f"/api/v1/positions/{long_tp.pk}/").json()["exchange_account"] == account.pk


@pytest.mark.parametrize("url", ["/api/v1/positions/", "/api/v1/positions/{id}/"])
def test_positions_cost_the_same_queries_for_one_or_many_rows(api, user, url, django_assert_max_num_queries):
    first = position(user, pyramids=1, legs=2)
    # One query per level: the page of groups, their pyramids, the pyramids' orders, the exits (+ count).
    with django_assert_max_num_queries(5):
        assert api.get(url.format(id=first.pk)).status_code == 200

    for n in range(5):
        big = position(user, pyramids=4, legs=5, symbol=f"COIN{n}/USDT")
    with django_assert_max_num_queries(5):
        response = api.get(url.format(id=big.pk))
    assert response.status_code == 200


def test_manual_close_marks_closing_and_enqueues_the_close_after_commit(api, user, django_capture_on_commit_callbacks):
    group = PositionGroupFactory(user=user, status="partially_filled")

    with django_capture_on_commit_callbacks() as callbacks:
        response = api.post(f"/api/v1/positions/{group.pk}/close/")

    assert response.status_code == 202
    assert (response.json()["status"], response.json()["exit_reason"]) == ("closing", "manual")
    group.refresh_from_db()
    assert (group.status, group.exit_reason) == ("closing", "manual")
    assert len(callbacks) == 1  # the close task, sent only once the closing status is committed


def test_manual_close_on_the_paper_exchange_closes_the_position(route, trader, django_capture_on_commit_callbacks):
    route(entry_price="100")  # leg 0 filled at 100, legs 1–4 resting
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("104"))
    group = PositionGroup.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(trader).post(f"/api/v1/positions/{group.pk}/close/")

    assert response.status_code == 202
    group.refresh_from_db()
    assert (group.status, group.exit_reason, group.total_filled_quantity) == ("closed", "manual", D("0"))
    assert group.realized_pnl_usd == D("8.000")  # 2.000 × (104 − 100)
    assert PaperOrder.objects.filter(status="open").count() == 0
    exit_order = Order.objects.get(role="exit")
    assert (exit_order.side, exit_order.quantity, exit_order.status, exit_order.exit_reason) == (
        "sell",
        D("2.000"),
        "filled",
        "manual",
    )
    assert JournalEntry.objects.get(kind="close").exit_reason == "manual"


@pytest.mark.parametrize(
    "state, message",
    [
        ("closing", "already closing"),
        ("closed", "already closed"),
        ("failed", "nothing to close"),
    ],
)
def test_closing_a_finished_or_closing_position_is_refused(
    api, user, state, message, django_capture_on_commit_callbacks
):
    group = PositionGroupFactory(user=user, status=state)

    with django_capture_on_commit_callbacks() as callbacks:
        response = api.post(f"/api/v1/positions/{group.pk}/close/")

    assert response.status_code == 409
    assert message in response.json()["detail"]
    assert not callbacks
    group.refresh_from_db()
    assert group.status == state and group.exit_reason == ""


def test_another_users_positions_are_invisible_and_cannot_be_closed(api, stranger, django_capture_on_commit_callbacks):
    theirs = position(stranger, pyramids=1)

    assert api.get("/api/v1/positions/").json()["count"] == 0
    assert api.get(f"/api/v1/positions/{theirs.pk}/").status_code == 404
    with django_capture_on_commit_callbacks() as callbacks:
        assert api.post(f"/api/v1/positions/{theirs.pk}/close/").status_code == 404
    assert not callbacks
    theirs.refresh_from_db()
    assert theirs.status == "waiting"


# --- Orders --------------------------------------------------------------------------------------


def test_orders_are_listed_newest_first_and_filtered(api, user):
    group = position(user, pyramids=1, legs=3)
    other_group = position(user, pyramids=1, legs=1, symbol="ETH/USDT", status="live")

    def roles(query):
        response = api.get(f"/api/v1/orders/?{query}")
        assert response.status_code == 200, response.json()
        return [(o["role"], o["status"]) for o in response.json()["results"]]

    assert len(roles("")) == 5 + 3
    assert roles(f"group={group.pk}&role=entry&status=open") == [("entry", "open"), ("entry", "open")]
    assert roles("role=take_profit") == [("take_profit", "open"), ("take_profit", "open")]
    assert roles(f"symbol=eth/usdt&role=exit&group={other_group.pk}") == [("exit", "cancelled")]
    assert api.get("/api/v1/orders/?group=not-a-uuid").status_code == 400
    assert api.get("/api/v1/orders/?role=stop").status_code == 400

    leg = group.orders.get(role="entry", leg_index=0)
    body = api.get(f"/api/v1/orders/{leg.pk}/").json()
    assert (body["group"], body["pyramid"], body["price"], body["client_order_id"]) == (
        str(group.pk),
        str(leg.pyramid_id),
        "100.000000000000",
        leg.client_order_id,
    )


def test_another_users_orders_are_invisible(api, stranger):
    theirs = position(stranger, pyramids=1, legs=1)
    order = theirs.orders.first()

    assert api.get("/api/v1/orders/").json()["count"] == 0
    assert api.get(f"/api/v1/orders/{order.pk}/").status_code == 404
    assert api.get(f"/api/v1/orders/?group={theirs.pk}").json()["count"] == 0


# --- Signals -------------------------------------------------------------------------------------


def test_signals_show_what_happened_and_why_without_the_secret(route, trader):
    opened = route(entry_price="100")
    ignored = route(intent="exit", side="buy", prev_market_position="short", market_position="flat")
    Signal.objects.create(user=None, status="rejected", http_status=403, reason="wrong secret")  # nobody's
    api = client_for(trader)

    body = api.get("/api/v1/signals/").json()

    assert body["count"] == 2
    assert [s["id"] for s in body["results"]] == [str(ignored.pk), str(opened.pk)]
    detail = api.get(f"/api/v1/signals/{opened.pk}/").json()
    assert set(detail) == {
        "id",
        "received_at",
        "client_ip",
        "status",
        "reason",
        "http_status",
        "intent",
        "exchange",
        "tv_symbol",
        "symbol",
        "timeframe",
        "side",
        "entry_price",
        "position_group",
        "payload",
    }
    assert (detail["status"], detail["symbol"], detail["entry_price"], detail["intent"]) == (
        "opened",
        "BTC/USDT",
        "100.000000000000",
        "signal",
    )
    assert detail["position_group"] == str(PositionGroup.objects.get().pk)
    assert detail["reason"].startswith("Opened long BTC/USDT 15m")
    assert "secret" not in detail["payload"]

    assert [s["id"] for s in api.get("/api/v1/signals/?status=ignored").json()["results"]] == [str(ignored.pk)]
    assert [s["id"] for s in api.get("/api/v1/signals/?intent=signal").json()["results"]] == [str(opened.pk)]
    assert api.get("/api/v1/signals/?intent=buy").status_code == 400


def test_another_users_signals_are_invisible(api, stranger):
    theirs = Signal.objects.create(user=stranger, status="opened", intent="signal")

    assert api.get("/api/v1/signals/").json()["count"] == 0
    assert api.get(f"/api/v1/signals/{theirs.pk}/").status_code == 404


# --- Queue ---------------------------------------------------------------------------------------


@pytest.fixture
def queued(route, trader):
    """BTC/USDT holds the trader's only slot; an ETH/USDT entry waits in the queue."""
    RiskConfig.objects.filter(user=trader).update(max_open_positions_global=1)
    route(symbol="BTCUSDT")
    signal = route(symbol="ETHUSDT")
    assert signal.status == "queued"
    return QueuedSignal.objects.get(signal=signal)


def test_queue_lists_waiting_entries_and_the_history_on_request(queued, trader):
    api = client_for(trader)
    done = QueuedSignal.objects.create(
        user=trader,
        signal=queued.signal,
        exchange="binance",
        symbol="SOL/USDT",
        timeframe=15,
        side="long",
        entry_price=D("20"),
        status="expired",
        expires_at=queued.expires_at,
    )

    waiting = api.get("/api/v1/queue/").json()
    assert [(e["id"], e["symbol"], e["status"], e["entry_price"]) for e in waiting["results"]] == [
        (str(queued.pk), "ETH/USDT", "queued", "100.000000000000")
    ]
    history = api.get("/api/v1/queue/?status=all").json()
    assert {e["id"] for e in history["results"]} == {str(queued.pk), str(done.pk)}
    assert [e["id"] for e in api.get("/api/v1/queue/?status=expired").json()["results"]] == [str(done.pk)]


def test_deleting_a_queue_entry_cancels_it_and_ignores_its_signal(queued, trader):
    api = client_for(trader)

    response = api.delete(f"/api/v1/queue/{queued.pk}/")

    assert response.status_code == 204
    queued.refresh_from_db()
    assert queued.status == "cancelled"
    signal = Signal.objects.get(pk=queued.signal_id)
    assert (signal.status, signal.reason) == ("ignored", "Removed from the queue by the trader.")
    assert api.get("/api/v1/queue/").json()["count"] == 0

    again = api.delete(f"/api/v1/queue/{queued.pk}/")
    assert again.status_code == 409 and "no longer queued: it was cancelled" in again.json()["detail"]


def test_promoting_a_queue_entry_opens_it_past_the_pool_limit(queued, trader, django_capture_on_commit_callbacks):
    api = client_for(trader)

    with django_capture_on_commit_callbacks(execute=True):  # the worker runs the job the request started
        response = api.post(f"/api/v1/queue/{queued.pk}/promote/")

    assert response.status_code == 202
    body = api.get(response.json()["url"]).json()["result"]
    assert (body["signal_id"], body["status"], body["queue_status"]) == (str(queued.signal_id), "opened", "promoted")
    assert body["reason"].startswith("Opened long ETH/USDT 15m")
    eth = PositionGroup.objects.get(symbol="ETH/USDT")
    assert eth.status in ("live", "partially_filled") and eth.orders.filter(role="entry").count() == 5

    again = api.post(f"/api/v1/queue/{queued.pk}/promote/")
    assert again.status_code == 409 and "no longer queued: it was promoted" in again.json()["detail"]


def test_promoting_while_force_stopped_keeps_the_entry_queued_and_says_why(
    queued, trader, django_capture_on_commit_callbacks
):
    RiskConfig.objects.filter(user=trader).update(engine_force_stopped=True)

    api = client_for(trader)
    with django_capture_on_commit_callbacks(execute=True):
        job_url = api.post(f"/api/v1/queue/{queued.pk}/promote/").json()["url"]
    job = api.get(job_url).json()
    body = job["result"]

    assert job["status"] == "failed" and "is still queued: the engine is force-stopped" in job["message"]
    assert (body["status"], body["queue_status"]) == ("queued", "queued")
    assert "force-stopped" in body["reason"]
    assert not PositionGroup.objects.filter(symbol="ETH/USDT").exists()


def test_another_users_queue_entries_can_be_neither_seen_nor_changed(queued, stranger):
    api = client_for(stranger)

    assert api.get("/api/v1/queue/?status=all").json()["count"] == 0
    assert api.get(f"/api/v1/queue/{queued.pk}/").status_code == 404
    assert api.delete(f"/api/v1/queue/{queued.pk}/").status_code == 404
    assert api.post(f"/api/v1/queue/{queued.pk}/promote/").status_code == 404
    queued.refresh_from_db()
    assert queued.status == "queued"
    assert not PositionGroup.objects.filter(symbol="ETH/USDT").exists()


# --- DCA configurations --------------------------------------------------------------------------

LADDER = [
    {"gap_percent": 0, "weight_percent": 50, "tp_percent": 1.5},
    {"gap_percent": "-1", "weight_percent": "50", "tp_percent": 2},
]


def test_creating_a_dca_config_normalises_it_like_the_admin(api, user):
    response = api.post(
        "/api/v1/dca-configs/",
        {
            "exchange": " Binance ",
            "pair": "eth/usdt",
            "timeframe": 60,
            "levels": LADDER,
            "pyramid_levels": {"1": [{"gap_percent": 0, "weight_percent": 100, "tp_percent": 1}]},
            "pyramid_tp_percents": {"0": 2},
            "tp_mode": "hybrid",
            "tp_aggregate_percent": "1.5",
            "capital_usd": "250",
            "entry_order_type": "market",
            "max_pyramids": 3,
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["exchange"], body["pair"], body["timeframe"], body["capital_usd"]) == (
        "binance",
        "ETH/USDT",
        60,
        "250.000000000000",
    )
    assert body["levels"] == [
        {"gap_percent": "0", "weight_percent": "50", "tp_percent": "1.5"},
        {"gap_percent": "-1", "weight_percent": "50", "tp_percent": "2"},
    ]
    assert body["pyramid_tp_percents"] == {"0": "2"}
    config = DCAConfiguration.objects.get(user=user)
    assert (config.pair, config.entry_order_type, config.pyramid_levels["1"][0]["weight_percent"]) == (
        "ETH/USDT",
        "market",
        "100",
    )


def test_weights_not_summing_to_100_are_refused_with_the_actual_sum_and_nothing_is_created(api, user):
    levels = [
        {"gap_percent": 0, "weight_percent": 40, "tp_percent": 1},
        {"gap_percent": -1, "weight_percent": 30, "tp_percent": 1},
    ]

    response = api.post(
        "/api/v1/dca-configs/",
        {"exchange": "binance", "pair": "BTC/USDT", "timeframe": 15, "levels": levels, "capital_usd": "1000"},
        format="json",
    )

    assert response.status_code == 400
    assert "they sum to 70" in str(response.json()["levels"])
    assert not DCAConfiguration.objects.exists()


def test_an_edit_breaking_the_ladder_is_refused_and_the_config_unchanged(api, user):
    config = DCAConfigurationFactory(user=user)

    response = api.patch(f"/api/v1/dca-configs/{config.pk}/", {"levels": LADDER[:1], "capital_usd": "5"}, format="json")

    assert response.status_code == 400
    assert "they sum to 50" in str(response.json()["levels"])
    config.refresh_from_db()
    assert config.capital_usd == D("1000") and len(config.levels) == 5


def test_other_refusals_name_the_field(api):
    response = api.post(
        "/api/v1/dca-configs/",
        {"exchange": "binance", "pair": "BTCUSDT", "levels": LADDER, "tp_mode": "aggregate", "capital_usd": "100"},
        format="json",
    )

    assert response.status_code == 400
    assert "BASE/QUOTE" in str(response.json()["pair"])
    assert "tp_aggregate_percent" in response.json()
    assert not DCAConfiguration.objects.exists()


def test_a_second_config_for_the_same_pair_and_timeframe_is_refused(api, user):
    existing = DCAConfigurationFactory(user=user)  # binance BTC/USDT 15m

    response = api.post(
        "/api/v1/dca-configs/",
        {"exchange": "BINANCE", "pair": "btc/usdt", "timeframe": 15, "levels": LADDER, "capital_usd": "100"},
        format="json",
    )

    assert response.status_code == 400
    assert f"already have a DCA configuration for binance BTC/USDT 15m (id {existing.pk})" in str(response.json())
    assert DCAConfiguration.objects.count() == 1


def test_the_any_timeframe_config_is_unique_too_and_edits_cannot_collide(api, user):
    DCAConfigurationFactory(user=user, timeframe=None)
    hourly = DCAConfigurationFactory(user=user, timeframe=60)

    duplicate = api.post(
        "/api/v1/dca-configs/",
        {"exchange": "binance", "pair": "BTC/USDT", "timeframe": None, "levels": LADDER, "capital_usd": "100"},
        format="json",
    )
    moved = api.patch(f"/api/v1/dca-configs/{hourly.pk}/", {"timeframe": None}, format="json")

    assert duplicate.status_code == 400 and "any timeframe" in str(duplicate.json())
    assert moved.status_code == 400 and "already have a DCA configuration" in str(moved.json())
    hourly.refresh_from_db()
    assert hourly.timeframe == 60
    assert DCAConfiguration.objects.count() == 2


def test_a_duplicate_that_slips_past_validation_still_answers_400(api, user, monkeypatch):
    """Two requests for the same config at once: the database constraint decides, the loser gets the clash."""
    from trading.api.serializers import DCAConfigurationSerializer

    DCAConfigurationFactory(user=user)
    monkeypatch.setattr(DCAConfigurationSerializer, "validate", lambda self, attrs: attrs)  # both passed validation

    response = api.post(
        "/api/v1/dca-configs/",
        {"exchange": "binance", "pair": "BTC/USDT", "timeframe": 15, "levels": LADDER, "capital_usd": "100"},
        format="json",
    )

    assert response.status_code == 400
    assert "already have a DCA configuration for binance BTC/USDT 15m" in str(response.json())
    assert DCAConfiguration.objects.count() == 1


def test_editing_and_deleting_a_dca_config(api, user):
    config = DCAConfigurationFactory(user=user)

    edited = api.patch(f"/api/v1/dca-configs/{config.pk}/", {"capital_usd": "500", "is_active": False}, format="json")
    assert edited.status_code == 200, edited.json()
    config.refresh_from_db()
    assert (config.capital_usd, config.is_active) == (D("500"), False)

    assert api.delete(f"/api/v1/dca-configs/{config.pk}/").status_code == 204
    assert not DCAConfiguration.objects.exists()


def test_another_users_dca_configs_can_be_neither_seen_nor_changed(api, stranger):
    theirs = DCAConfigurationFactory(user=stranger)
    url = f"/api/v1/dca-configs/{theirs.pk}/"

    assert api.get("/api/v1/dca-configs/").json()["count"] == 0
    assert api.get(url).status_code == 404
    assert api.patch(url, {"capital_usd": "1"}, format="json").status_code == 404
    assert (
        api.put(
            url, {"exchange": "binance", "pair": "BTC/USDT", "levels": LADDER, "capital_usd": "1"}, format="json"
        ).status_code
        == 404
    )
    assert api.delete(url).status_code == 404
    theirs.refresh_from_db()
    assert theirs.capital_usd == D("1000")


def test_a_config_with_the_same_key_as_another_users_is_fine(api, user, stranger):
    DCAConfigurationFactory(user=stranger)
    response = api.post(
        "/api/v1/dca-configs/",
        {"exchange": "binance", "pair": "BTC/USDT", "timeframe": 15, "levels": LADDER, "capital_usd": "100"},
        format="json",
    )
    assert response.status_code == 201, response.json()


# --- Authentication ------------------------------------------------------------------------------


def test_a_script_with_an_api_token_reads_its_positions_and_nothing_without_it(user, stranger):
    mine = PositionGroupFactory(user=user)
    PositionGroupFactory(user=stranger)
    token = Token.objects.create(user=user)
    client = APIClient()

    assert client.get("/api/v1/positions/").status_code in (401, 403)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    body = client.get("/api/v1/positions/").json()
    assert [g["id"] for g in body["results"]] == [str(mine.pk)]
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get("/api/v1/positions/").status_code in (401, 403)
