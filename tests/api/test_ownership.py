"""Every object in the API is its owner's alone, checked for every endpoint in one place.

Given a trader A with a routed position, a queued entry and the rest, and a stranger B with one of
everything too: A asking for any of B's objects, by any method, gets 404 and B's records are exactly
as they were; A's lists and pages never show one of B's rows; A's writes that name no object change
nothing of B's.

The endpoints come from the OpenAPI schema: an endpoint added to the API without a line in the
tables below fails ``test_every_endpoint_is_checked``.
"""

import uuid
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token

from exchanges.models import AccountBalance, ExchangeAccount, PaperAccountPrice, PaperMarket, PaperPrice
from jobs.models import Job
from notifications.models import Notification, TelegramConfig
from tests.api_client import client_for
from tests.factories import (
    DCAConfigurationFactory,
    ExchangeAccountFactory,
    OrderFactory,
    PositionGroupFactory,
    PyramidFactory,
    UserFactory,
    queued_entry,
)
from trading.models import (
    DCAConfiguration,
    JournalEntry,
    Order,
    PositionGroup,
    Pyramid,
    QueuedSignal,
    RiskConfig,
    Signal,
)

pytestmark = pytest.mark.django_db
D = Decimal
PASSWORD = "correct-horse-battery"  # tests.factories.UserFactory's
METHODS = ("get", "post", "put", "patch", "delete")


@cache
def api_operations() -> frozenset[tuple[str, str]]:
    """(METHOD, path) of every operation the OpenAPI schema documents under /api/v1/."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return frozenset(
        (method.upper(), path)
        for path, item in schema["paths"].items()
        if path.startswith("/api/v1/")
        for method in item
        if method in METHODS
    )


@dataclass(frozen=True)
class Target:
    """Which of a trader's records the path's id names, and the body a write sends (A's own, valid)."""

    record: str
    body: str | None = None  # "edit": A's own record as read, minus the read-only fields


# Every operation with an id in its path. The record is A's or B's ``world`` entry of that name.
OBJECT_OPERATIONS = {
    ("GET", "/api/v1/positions/{id}/"): Target("group"),
    ("POST", "/api/v1/positions/{id}/close/"): Target("group"),
    ("GET", "/api/v1/orders/{id}/"): Target("order"),
    ("GET", "/api/v1/signals/{id}/"): Target("signal"),
    ("GET", "/api/v1/queue/{id}/"): Target("queued"),
    ("DELETE", "/api/v1/queue/{id}/"): Target("queued"),
    ("POST", "/api/v1/queue/{id}/promote/"): Target("queued"),
    ("GET", "/api/v1/dca-configs/{id}/"): Target("dca_config"),
    ("PUT", "/api/v1/dca-configs/{id}/"): Target("dca_config", body="edit"),
    ("PATCH", "/api/v1/dca-configs/{id}/"): Target("dca_config", body="edit"),
    ("DELETE", "/api/v1/dca-configs/{id}/"): Target("dca_config"),
    ("GET", "/api/v1/dca-configs/{id}/preview/"): Target("dca_config"),
    ("GET", "/api/v1/exchange-accounts/{id}/"): Target("account"),
    ("PUT", "/api/v1/exchange-accounts/{id}/"): Target("account", body="edit"),
    ("PATCH", "/api/v1/exchange-accounts/{id}/"): Target("account", body="edit"),
    ("DELETE", "/api/v1/exchange-accounts/{id}/"): Target("account"),
    ("POST", "/api/v1/exchange-accounts/{id}/test-connection/"): Target("account"),
    ("GET", "/api/v1/exchange-accounts/{id}/balance/"): Target("account"),
    ("POST", "/api/v1/exchange-accounts/{id}/refresh-balance/"): Target("account"),
    ("POST", "/api/v1/risk/{group_id}/block/"): Target("group"),
    ("POST", "/api/v1/risk/{group_id}/unblock/"): Target("group"),
    ("POST", "/api/v1/risk/{group_id}/skip/"): Target("group"),
    ("GET", "/api/v1/risk/actions/{id}/"): Target("risk_action"),
    ("GET", "/api/v1/jobs/{id}/"): Target("job"),
}


@dataclass(frozen=True)
class Query:
    """A write whose parameters travel in the query string (a DELETE), not in a body."""

    string: str


# Every write without an id in its path: it acts on the caller's own records (or creates one), and
# A's must leave B's alone. The body is A's, valid, so the write really happens (a staff-only write
# is refused to A, a trader, and must change nothing either).
SOL_CONFIG = {
    "exchange": "binance",
    "pair": "SOL/USDT",
    "timeframe": 15,
    "capital_usd": "500",
    "levels": [{"gap_percent": "0", "weight_percent": "100", "tp_percent": "2"}],
}
COLLECTION_WRITES = {
    ("POST", "/api/v1/auth/token/"): {"username": "walkthrough", "password": PASSWORD},
    ("POST", "/api/v1/dca-configs/"): SOL_CONFIG,
    # The exchange B has an account on: accounts are unique per trader, not per installation.
    ("POST", "/api/v1/exchange-accounts/"): {"exchange_id": "kucoin", "mode": "paper"},
    ("POST", "/api/v1/paper/prices/"): {"exchange": "binance", "symbol": "BTC/USDT", "price": "101"},
    ("DELETE", "/api/v1/paper/prices/"): Query("exchange=binance&symbol=BTC/USDT"),
    ("POST", "/api/v1/paper/markets/"): {
        "exchange": "binance",
        "symbol": "XRP/USDT",
        "tick_size": "0.0001",
        "step_size": "0.1",
    },
    ("PUT", "/api/v1/risk/config/"): "edit",
    ("PATCH", "/api/v1/risk/config/"): {"max_open_positions_global": 3},
    ("POST", "/api/v1/risk/force-stop/"): None,
    ("POST", "/api/v1/risk/force-start/"): None,
    ("POST", "/api/v1/risk/run-evaluation/"): None,
    ("POST", "/api/v1/risk/sync-exchange/"): None,
    ("PUT", "/api/v1/telegram/config/"): "edit",
    ("PATCH", "/api/v1/telegram/config/"): {"channel_id": "@my_channel", "bot_token": "my-bot-token", "enabled": True},
    ("POST", "/api/v1/telegram/test/"): None,
}
# Writes to state every trader shares (the paper exchange's market rules): staff only.
STAFF_ONLY_WRITES = {("POST", "/api/v1/paper/markets/")}

READ_ONLY_FIELDS = {
    "id",
    "created_at",
    "updated_at",
    "has_keys",
    "has_bot_token",
    "last_connection_error",
    "last_error",
    "last_error_at",
    "last_evaluated_at",
    "engine_force_stopped",
    "engine_paused",
}

# Everything a trader owns, by how to find it from the user: what "B's records are unchanged" compares.
OWNED = [
    (PositionGroup, "user"),
    (Pyramid, "group__user"),
    (Order, "group__user"),
    (Signal, "user"),
    (QueuedSignal, "user"),
    (DCAConfiguration, "user"),
    (ExchangeAccount, "user"),
    (JournalEntry, "user"),
    (RiskConfig, "user"),
    (TelegramConfig, "user"),
    (Notification, "user"),
    (Token, "user"),
    (Job, "user"),
    (PaperAccountPrice, "account__user"),
    (AccountBalance, "account__user"),
]


def records(user) -> dict[str, list[dict]]:
    return {
        model.__name__: list(model.objects.filter(**{lookup: user}).order_by("pk").values()) for model, lookup in OWNED
    }


def strangers_world() -> dict:
    """B: a live position with a filled leg and its take-profit, a queued entry, a DCA config, a paper
    account on binance (with its own BTC/USDT price) and one on kucoin (with a market and price only
    kucoin shows), a risk action, risk and Telegram settings."""
    stranger = UserFactory(username="stranger")
    account = ExchangeAccountFactory(user=stranger, exchange_id="binance", label="their binance")
    ExchangeAccountFactory(user=stranger, exchange_id="kucoin", label="their kucoin")
    PaperMarket.objects.create(
        exchange_id="kucoin",
        symbol="KCS/USDT",
        market_id="KCSUSDT",
        base="KCS",
        quote="USDT",
        tick_size=D("0.001"),
        step_size=D("0.01"),
    )
    PaperPrice.objects.create(exchange_id="kucoin", symbol="KCS/USDT", price=D("12.345"))
    PaperAccountPrice.objects.create(account=account, symbol="BTC/USDT", price=D("77.777"))  # B's own book
    AccountBalance.objects.create(account=account, equity_usd=D("777777"), fetched_at=timezone.now())
    group = PositionGroupFactory(
        user=stranger, exchange_account=account, status="live", pyramid_count=1, total_dca_legs=2, filled_dca_legs=1
    )
    pyramid = PyramidFactory(group=group)
    entry = OrderFactory(
        group=group,
        pyramid=pyramid,
        status="filled",
        filled_quantity=D("2"),
        avg_fill_price=D("100"),
        exchange_order_id="their-entry",
    )
    OrderFactory(
        group=group,
        pyramid=pyramid,
        role="take_profit",
        leg_index=None,
        entry_order=entry,
        side="sell",
        price=D("102"),
        status="open",
    )
    OrderFactory(group=group, pyramid=pyramid, leg_index=1, price=D("99.5"), status="open")
    queued = queued_entry(stranger)
    dca_config = DCAConfigurationFactory(user=stranger)
    risk_action = JournalEntry.objects.create(user=stranger, kind="manual_block", group=group)
    RiskConfig.objects.get_or_create(user=stranger)
    TelegramConfig.objects.update_or_create(
        user=stranger, defaults={"channel_id": "@their_channel", "bot_token": "their-bot-token"}
    )
    Token.objects.create(user=stranger)
    job = Job.objects.create(
        user=stranger,
        kind="exchange_sync",
        title="their sync",
        status="succeeded",
        message="their sync went fine",
        result={"accounts": []},
    )
    return {
        "user": stranger,
        "group": group,
        "order": entry,
        "signal": queued.signal,
        "queued": queued,
        "dca_config": dca_config,
        "account": account,
        "risk_action": risk_action,
        "job": job,
    }


def markers(world: dict) -> set[str]:
    """Strings that appear in an answer only if it shows one of B's records: their UUIDs and names.
    (Integer ids, of accounts and DCA configurations, are checked by list in ``LIST_MODELS``.)"""
    ids = {
        str(row["id"])
        for rows in records(world["user"]).values()
        for row in rows
        if isinstance(row.get("id"), uuid.UUID)
    }
    return ids | {"@their_channel", "their binance", "their kucoin", "kucoin", "KCS/USDT", "their-entry", "77.777"}


# The record behind each paginated list, to compare the ids listed with B's (integer ids included).
LIST_MODELS = {
    "/api/v1/positions/": PositionGroup,
    "/api/v1/orders/": Order,
    "/api/v1/signals/": Signal,
    "/api/v1/queue/": QueuedSignal,
    "/api/v1/dca-configs/": DCAConfiguration,
    "/api/v1/exchange-accounts/": ExchangeAccount,
    "/api/v1/risk/actions/": JournalEntry,
}


@pytest.fixture
def mine(route, trader) -> dict:
    """A (the walkthrough trader): a routed BTC/USDT position, its orders and signal, an ETH/USDT entry
    waiting in the queue because the pool has one slot, a finished job, Telegram set up."""
    RiskConfig.objects.filter(user=trader).update(max_open_positions_global=1)
    opened = route(symbol="BTCUSDT")
    waiting = route(symbol="ETHUSDT")
    assert (opened.status, waiting.status) == ("opened", "queued")
    group = opened.position_group
    telegram = TelegramConfig.objects.get(user=trader)
    telegram.channel_id, telegram.bot_token = "@my_channel", "my-bot-token"
    telegram.save()
    return {
        "user": trader,
        "group": group,
        "order": group.orders.order_by("pk").first(),
        "signal": opened,
        "queued": QueuedSignal.objects.get(signal=waiting),
        "dca_config": DCAConfiguration.objects.filter(user=trader).order_by("pk").first(),
        "account": trader.exchange_accounts.get(),
        "risk_action": JournalEntry.objects.create(user=trader, kind="manual_block", group=group),
        "job": Job.objects.create(user=trader, kind="exchange_sync", title="my sync"),
    }


@pytest.fixture
def theirs(db) -> dict:
    return strangers_world()


def url_for(path: str, record) -> str:
    return path.replace("{id}", str(record.pk)).replace("{group_id}", str(record.pk))


def editable(api, url: str) -> dict:
    """A record as its owner reads it, minus what cannot be written: a valid body for PUT or PATCH."""
    response = api.get(url)
    assert response.status_code == 200, response.content
    return {name: value for name, value in response.json().items() if name not in READ_ONLY_FIELDS}


def send(api, method: str, url: str, body=None):
    call = getattr(api, method.lower())
    return call(url, body, format="json") if body is not None else call(url)


def test_every_endpoint_is_checked():
    documented = api_operations()
    object_operations = {op for op in documented if "{" in op[1]}
    collection_writes = {op for op in documented if "{" not in op[1] and op[0] != "GET"}

    assert object_operations == set(OBJECT_OPERATIONS), (
        "Add each new operation on one record to OBJECT_OPERATIONS (or drop a removed one)"
    )
    assert collection_writes == set(COLLECTION_WRITES), (
        "Add each new write without an id to COLLECTION_WRITES (or drop a removed one)"
    )


@pytest.mark.parametrize("method, path", sorted(OBJECT_OPERATIONS), ids=lambda value: value)
def test_another_traders_record_answers_404_and_stays_as_it_was(
    method, path, mine, theirs, django_capture_on_commit_callbacks, loopback_only
):
    target = OBJECT_OPERATIONS[(method, path)]
    api = client_for(mine["user"])
    own_url = url_for(path, mine[target.record])
    body = editable(api, own_url) if target.body else None  # PUT and PATCH: the path is the record's own
    before = records(theirs["user"])

    with django_capture_on_commit_callbacks() as callbacks:
        answer = send(api, method, url_for(path, theirs[target.record]), body)

    assert answer.status_code == 404, answer.content
    assert not callbacks, "nothing may be enqueued for another trader's record"
    assert records(theirs["user"]) == before
    # The same request on A's own record is served (or refused for what it is, like deleting an account
    # with positions: 409): the 404 above is about whose record it is.
    own = send(api, method, own_url, body)
    assert own.status_code != 404 and own.status_code < 500, own.content


LIST_AND_PAGE_READS = sorted(op for op in api_operations() if op[0] == "GET" and "{" not in op[1])


@pytest.mark.parametrize("method, path", LIST_AND_PAGE_READS, ids=lambda value: value)
def test_lists_and_pages_never_show_another_traders_rows(method, path, mine, theirs, loopback_only):
    api = client_for(mine["user"])

    answer = api.get(path)

    assert answer.status_code == 200, answer.content
    shown = answer.content.decode()
    assert not {marker for marker in markers(theirs) if marker in shown}
    if isinstance(answer.json(), dict) and "results" in answer.json():
        assert path in LIST_MODELS, "Add the new list's record to LIST_MODELS"
        model = LIST_MODELS[path]
        lookup = dict(OWNED)[model]
        listed = {str(row["id"]) for row in answer.json()["results"]}
        strangers = {str(pk) for pk in model.objects.filter(**{lookup: theirs["user"]}).values_list("pk", flat=True)}
        assert listed and strangers  # both have rows of this kind: A sees theirs ...
        assert not listed & strangers  # ... and none of B's


@pytest.mark.parametrize("method, path", sorted(COLLECTION_WRITES), ids=lambda value: value)
def test_writes_without_an_id_change_nothing_of_another_trader(method, path, mine, theirs, loopback_only):
    api = client_for(mine["user"])
    body = COLLECTION_WRITES[(method, path)]
    if body == "edit":
        body = editable(api, path)
    if isinstance(body, Query):
        api.post(path, {"exchange": "binance", "symbol": "BTC/USDT", "price": "101"}, format="json")  # one to drop
        path, body = f"{path}?{body.string}", None
    before = records(theirs["user"])
    markets = list(PaperMarket.objects.order_by("pk").values())

    answer = send(api, method, path, body)

    if (method, path) in STAFF_ONLY_WRITES:
        assert answer.status_code == 403, answer.content
        assert list(PaperMarket.objects.order_by("pk").values()) == markets
    else:
        assert answer.status_code < 400, answer.content
    assert records(theirs["user"]) == before
    assert not {marker for marker in markers(theirs) - {"kucoin"} if marker in answer.content.decode()}


@pytest.mark.parametrize(
    "method, path, body, status",
    [
        ("post", "/api/v1/paper/prices/", {"exchange": "kucoin", "symbol": "KCS/USDT", "price": "1"}, 404),
        ("delete", "/api/v1/paper/prices/?exchange=kucoin&symbol=KCS/USDT", None, 404),
        (
            "post",
            "/api/v1/paper/markets/",
            {"exchange": "kucoin", "symbol": "KCS/USDT", "tick_size": "1", "step_size": "1"},
            403,
        ),
    ],
)
def test_a_paper_exchange_is_reached_only_through_ones_own_paper_account(method, path, body, status, mine, theirs):
    api = client_for(mine["user"])

    answer = send(api, method, path, body)

    assert answer.status_code == status
    if status == 404:
        assert "You have no paper account for 'kucoin'" in answer.json()["detail"]
    assert PaperPrice.objects.get(exchange_id="kucoin").price == D("12.345")
    assert PaperMarket.objects.get(exchange_id="kucoin").tick_size == D("0.001")
    assert api.get("/api/v1/paper/markets/?exchange=kucoin").status_code == 404
