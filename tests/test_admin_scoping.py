"""Admin is for operators: only staff reach it, a staff member who is not a superuser sees and edits only
their own records, and no record changes owner there. A superuser sees everything.

Given staff A and staff B (neither a superuser, both with every model permission) with one of every
owned record each: A's lists and pages never show B's rows, B's pages answer as for a record that does
not exist and B's rows stay as they were, and ``user`` is not a field A can post.
"""

from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import RequestFactory
from rest_framework.authtoken.models import Token, TokenProxy

from exchanges.models import (
    ExchangeAccount,
    PaperAccountPrice,
    PaperBalance,
    PaperFill,
    PaperMarket,
    PaperOrder,
    PaperPrice,
)
from notifications.models import Notification, TelegramConfig
from tests.factories import (
    PAPER_FORM_DATA,
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
    EngineHeartbeat,
    FundingPayment,
    JournalEntry,
    Order,
    PositionGroup,
    Pyramid,
    QueuedSignal,
    RiskConfig,
    Signal,
    User,
)

pytestmark = pytest.mark.django_db
D = Decimal

# Every registered model a trader owns, with the lookup from it to its owner.
OWNED = {
    User: "pk",
    TokenProxy: "user",
    DCAConfiguration: "user",
    PositionGroup: "user",
    Pyramid: "group__user",
    Order: "group__user",
    FundingPayment: "group__user",
    Signal: "user",
    QueuedSignal: "user",
    RiskConfig: "user",
    JournalEntry: "user",
    TelegramConfig: "user",
    Notification: "user",
    ExchangeAccount: "user",
    PaperAccountPrice: "account__user",
    PaperBalance: "account__user",
    PaperOrder: "account__user",
    PaperFill: "order__account__user",
}
# Registered models nobody owns: the exchange's rules and shared prices, beat's schedules, groups, heartbeats.
SHARED = {
    "auth.group",
    "trading.engineheartbeat",
    "exchanges.papermarket",
    "exchanges.paperprice",
    "django_celery_beat.periodictask",
    "django_celery_beat.clockedschedule",
    "django_celery_beat.crontabschedule",
    "django_celery_beat.solarschedule",
    "django_celery_beat.intervalschedule",
    # Operator records: unknown senders' networks and login attempts (any trader's username).
    "trading.webhookrejectiontally",
    "axes.accessattempt",
    "axes.accesslog",
    "axes.accessfailurelog",
}


def staff(username: str) -> User:
    user = UserFactory(username=username, is_staff=True)
    user.user_permissions.set(Permission.objects.all())
    return user


def world(user: User) -> dict:
    """One of everything a trader owns."""
    account = ExchangeAccountFactory(user=user, label=f"{user.username}'s binance")
    group = PositionGroupFactory(user=user, exchange_account=account, status="live")
    pyramid = PyramidFactory(group=group)
    order = OrderFactory(group=group, pyramid=pyramid, status="open")
    queued_entry(user)
    JournalEntry.objects.create(user=user, kind="manual_block", group=group)
    Notification.objects.create(user=user, group=group, event_type=Notification.EventType.values[0], text="hello")
    Token.objects.create(user=user)
    paper_order = PaperOrder.objects.create(
        account=account,
        exchange_id="binance",
        symbol="BTC/USDT",
        client_order_id=f"dce-{user.username}",
        side="buy",
        order_type="limit",
        price=D("99"),
        amount=D("1"),
        filled=D("1"),
        status="closed",
    )
    PaperFill.objects.create(order=paper_order, price=D("99"), amount=D("1"))
    PaperBalance.objects.create(account=account, asset="BTC", free=D("1"))
    PaperAccountPrice.objects.create(account=account, symbol="BTC/USDT", price=D("99"))
    FundingPayment.objects.create(
        group=group,
        exchange_account=account,
        symbol=group.symbol,
        exchange_payment_id=f"funding-{user.username}",
        amount=D("-0.1"),
        payment_amount=D("-0.1"),
        currency="USDT",
        paid_at=group.created_at,
    )
    return {
        "user": user,
        "account": account,
        "dca_config": DCAConfigurationFactory(user=user),
        "group": group,
        "order": order,
    }


@pytest.fixture
def a(db) -> dict:
    return world(staff("staff-a"))


@pytest.fixture
def b(db) -> dict:
    return world(staff("staff-b"))


def change_url(record) -> str:
    return f"/admin/{record._meta.app_label}/{record._meta.model_name}/{record.pk}/change/"


def rows(model) -> list[dict]:
    return list(model.objects.order_by("pk").values())


def test_every_registered_model_is_either_owned_or_shared():
    registered = {model._meta.label_lower for model in admin.site._registry}
    owned = {model._meta.label_lower for model in OWNED}

    assert registered == owned | SHARED, "Classify each newly registered model: scope it by owner or list it as shared"


@pytest.mark.parametrize("model", list(OWNED), ids=lambda model: model.__name__)
def test_a_staff_member_sees_only_their_own_rows(model, a, b):
    request = RequestFactory().get("/admin/")
    request.user = a["user"]
    model_admin = admin.site._registry[model]
    lookup = OWNED[model]

    shown = set(model_admin.get_queryset(request).values_list("pk", flat=True))

    mine = set(model.objects.filter(**{lookup: a["user"].pk}).values_list("pk", flat=True))
    theirs = set(model.objects.filter(**{lookup: b["user"].pk}).values_list("pk", flat=True))
    assert mine and theirs
    assert shown == mine


@pytest.mark.parametrize("record", ["account", "dca_config", "group", "order"])
def test_another_staff_members_record_cannot_be_opened_nor_changed(client, a, b, record):
    theirs = b[record]
    before = rows(type(theirs))
    client.force_login(a["user"])
    base = change_url(theirs).removesuffix("change/")

    opened = client.get(change_url(theirs))
    posted = client.post(change_url(theirs), {"user": str(a["user"].pk), "label": "mine now"})
    history = client.get(f"{base}history/")
    deleted = client.post(f"{base}delete/", {"post": "yes"})

    for answer in (opened, history):
        assert answer.status_code == 302 and answer.url == "/admin/", answer  # "does not exist"
    for answer in (posted, deleted):  # the same, or 403 on the records nobody edits in admin (orders, …)
        assert answer.status_code == 403 or (answer.status_code == 302 and answer.url == "/admin/"), answer
    assert rows(type(theirs)) == before
    listing = client.get(f"/admin/{theirs._meta.app_label}/{theirs._meta.model_name}/").content.decode()
    assert change_url(theirs) not in listing and change_url(a[record]) in listing


def test_a_staff_member_cannot_give_their_account_to_someone_else(client, a, b):
    account = a["account"]
    client.force_login(a["user"])
    form = {
        "exchange_id": "binance",
        "market_type": "spot",
        "label": "renamed",
        "mode": "paper",
        "is_enabled": "on",
        **PAPER_FORM_DATA,
        "user": str(b["user"].pk),
    }

    page = client.get(change_url(account)).content.decode()
    response = client.post(change_url(account), form)

    assert 'name="user"' not in page
    assert response.status_code == 302
    account.refresh_from_db()
    assert (account.label, account.user) == ("renamed", a["user"])


def test_user_is_read_only_on_every_owned_change_form(rf, a):
    """Superusers included: an account, a DCA configuration or a setting never changes hands."""
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True)
    for model in (ExchangeAccount, DCAConfiguration, RiskConfig, TelegramConfig, TokenProxy):
        for user in (a["user"], superuser):
            request = rf.get("/admin/")
            request.user = user
            model_admin = admin.site._registry[model]
            record = model.objects.filter(user=a["user"]).first()
            assert "user" not in model_admin.get_form(request, record).base_fields, (model, user)


def test_a_new_record_of_a_staff_member_can_only_be_their_own(client, a, b):
    client.force_login(a["user"])

    page = client.get("/admin/trading/dcaconfiguration/add/").content.decode()

    assert f'value="{a["user"].pk}"' in page and f'value="{b["user"].pk}"' not in page


def test_a_staff_member_cannot_raise_their_own_rights(client, a):
    client.force_login(a["user"])

    page = client.get(change_url(a["user"])).content.decode()

    assert 'name="is_superuser"' not in page and 'name="user_permissions"' not in page
    assert client.get("/admin/trading/user/add/").status_code == 403


def test_a_superuser_sees_everyones_records(client, a, b):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))

    listing = client.get("/admin/exchanges/exchangeaccount/").content.decode()

    assert change_url(a["account"]) in listing and change_url(b["account"]) in listing
    assert client.get(change_url(b["dca_config"])).status_code == 200


def test_only_staff_reach_admin(client, a):
    trader = UserFactory(username="trader")
    ExchangeAccountFactory(user=trader)
    client.force_login(trader)

    for url in ("/admin/", "/admin/exchanges/exchangeaccount/", change_url(a["account"])):
        answer = client.get(url)
        assert answer.status_code == 302 and answer.url.startswith("/admin/login/"), url


def test_shared_paper_state_stays_with_the_model_permissions(client, a):
    """Markets and shared prices are nobody's: a staff member with the permissions sees them all."""
    PaperMarket.objects.create(
        exchange_id="binance",
        symbol="BTC/USDT",
        market_id="BTCUSDT",
        base="BTC",
        quote="USDT",
        tick_size=D("0.01"),
        step_size=D("0.001"),
    )
    PaperPrice.objects.create(exchange_id="binance", symbol="BTC/USDT", price=D("100"))
    client.force_login(a["user"])

    assert "BTC/USDT" in client.get("/admin/exchanges/papermarket/").content.decode()
    assert "BTC/USDT" in client.get("/admin/exchanges/paperprice/").content.decode()
    assert EngineHeartbeat._meta.label_lower in SHARED
