"""factory_boy factories for the engine's records, with realistic defaults (BTC/USDT 15m long)."""

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from exchanges.models import ExchangeAccount
from trading.models import DCAConfiguration, Order, PositionGroup, Pyramid, QueuedSignal, Signal, User

WALKTHROUGH_LEVELS = [
    {"gap_percent": gap, "weight_percent": "20", "tp_percent": "2"} for gap in ("0", "-0.5", "-1", "-1.5", "-2")
]


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"trader{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")

    @factory.post_generation
    def password(user, create, extracted, **kwargs):
        user.set_password(extracted or "correct-horse-battery")
        if create:
            user.save(update_fields=["password"])


class ExchangeAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExchangeAccount

    user = factory.SubFactory(UserFactory)
    exchange_id = "binance"
    mode = ExchangeAccount.Mode.PAPER
    price_feed = ExchangeAccount.PriceFeed.MANUAL


# A paper exchange account's settings as the admin's and the dashboard's account forms post them.
PAPER_FORM_DATA = {
    "price_feed": "manual",
    "maker_fee_percent": "0.1",
    "taker_fee_percent": "0.1",
    "partial_fill_ratio": "1",
    "market_slippage_percent": "0.05",
    "starting_balance": "10000",
    "synthetic_seed": "42",
}


class DCAConfigurationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DCAConfiguration

    user = factory.SubFactory(UserFactory)
    exchange = "binance"
    pair = "BTC/USDT"
    timeframe = 15
    levels = factory.LazyFunction(lambda: [dict(level) for level in WALKTHROUGH_LEVELS])
    tp_mode = "per_leg"
    tp_aggregate_percent = Decimal("3")
    max_pyramids = 5
    capital_usd = Decimal("1000")


class PositionGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PositionGroup

    user = factory.SubFactory(UserFactory)
    exchange_account = factory.SubFactory(ExchangeAccountFactory, user=factory.SelfAttribute("..user"))
    exchange = "binance"
    symbol = "BTC/USDT"
    timeframe = 15
    side = "long"
    config_snapshot = factory.LazyFunction(lambda: {"levels": WALKTHROUGH_LEVELS})
    max_pyramids = 5
    base_entry_price = Decimal("100")
    tp_mode = "per_leg"


class PyramidFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Pyramid

    group = factory.SubFactory(PositionGroupFactory)
    index = 0
    entry_price = Decimal("100")
    levels = factory.LazyFunction(lambda: WALKTHROUGH_LEVELS)
    capital_usd = Decimal("1000")


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    group = factory.SubFactory(PositionGroupFactory)
    pyramid = factory.SubFactory(PyramidFactory, group=factory.SelfAttribute("..group"))
    role = Order.Role.ENTRY
    leg_index = 0
    symbol = "BTC/USDT"
    side = "buy"
    order_type = "limit"
    price = Decimal("100.00")
    quantity = Decimal("2.000")


def queued_entry(user, *, entry_price=Decimal("100"), **queued) -> QueuedSignal:
    """A long ETH/USDT 15m entry waiting an hour in the queue, with its queued signal."""
    signal = Signal.objects.create(
        user=user,
        status=Signal.Status.QUEUED,
        intent="signal",
        exchange="binance",
        tv_symbol="ETHUSDT",
        symbol="ETH/USDT",
        timeframe=15,
        side="long",
        entry_price=entry_price,
    )
    return QueuedSignal.objects.create(
        user=user,
        signal=signal,
        exchange="binance",
        symbol="ETH/USDT",
        timeframe=15,
        side="long",
        entry_price=entry_price,
        expires_at=timezone.now() + timedelta(hours=1),
        **queued,
    )
