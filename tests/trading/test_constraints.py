"""Database constraints, checked on PostgreSQL: the database refuses what the engine must never store."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from tests.factories import DCAConfigurationFactory, OrderFactory, PositionGroupFactory, PyramidFactory
from trading.models import Order, PositionGroup, Signal

pytestmark = pytest.mark.django_db


def test_suite_runs_on_postgresql():
    assert connection.vendor == "postgresql"


def test_second_active_group_for_the_same_key_is_refused():
    first = PositionGroupFactory(status="live")

    with pytest.raises(IntegrityError), transaction.atomic():
        PositionGroupFactory(user=first.user, exchange_account=first.exchange_account, status="waiting")

    assert PositionGroup.objects.count() == 1


@pytest.mark.parametrize("finished", ["closed", "failed"])
def test_a_new_active_group_may_follow_a_finished_one(finished):
    old = PositionGroupFactory(status=finished)

    new = PositionGroupFactory(user=old.user, exchange_account=old.exchange_account, status="live")

    assert PositionGroup.objects.filter(user=old.user).count() == 2
    assert new.status == "live"


@pytest.mark.parametrize("field,value", [("side", "short"), ("timeframe", 60), ("symbol", "ETH/USDT")])
def test_groups_differing_in_one_identity_field_coexist(field, value):
    first = PositionGroupFactory(status="live")

    PositionGroupFactory(user=first.user, exchange_account=first.exchange_account, status="live", **{field: value})

    assert PositionGroup.objects.filter(user=first.user).count() == 2


def test_pyramid_count_cannot_exceed_the_limit():
    group = PositionGroupFactory(max_pyramids=2)

    with pytest.raises(IntegrityError), transaction.atomic():
        PositionGroup.objects.filter(pk=group.pk).update(pyramid_count=3)


def test_one_dca_config_per_user_exchange_pair_timeframe():
    config = DCAConfigurationFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        DCAConfigurationFactory(user=config.user)
    DCAConfigurationFactory(user=config.user, timeframe=60)  # another timeframe is fine


def test_one_any_timeframe_default_per_exchange():
    config = DCAConfigurationFactory(pair="*", timeframe=None)

    with pytest.raises(IntegrityError), transaction.atomic():
        DCAConfigurationFactory(user=config.user, pair="*", timeframe=None)


def test_client_order_ids_are_unique():
    order = OrderFactory()

    clone = Order(
        group=order.group,
        pyramid=order.pyramid,
        role="entry",
        leg_index=1,
        symbol="BTC/USDT",
        side="buy",
        order_type="limit",
        price=Decimal("99.5"),
        quantity=Decimal("2.01"),
        client_order_id=order.client_order_id,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        clone.save()


def test_client_order_id_is_derived_from_the_primary_key_and_fits_exchanges():
    order = OrderFactory()

    assert order.client_order_id == f"dce{order.id.hex}"
    assert len(order.client_order_id) <= 36
    assert order.client_order_id.isalnum()


def test_signal_dedupe_key_is_unique_per_user_but_rejections_without_key_are_not_limited(user):
    Signal.objects.create(user=user, dedupe_key="a" * 64)
    Signal.objects.create(user=user, dedupe_key=None, status="rejected")
    Signal.objects.create(user=user, dedupe_key=None, status="rejected")

    with pytest.raises(IntegrityError), transaction.atomic():
        Signal.objects.create(user=user, dedupe_key="a" * 64)


def test_order_filled_quantity_cannot_exceed_its_quantity():
    order = OrderFactory(quantity=Decimal("2.000"))

    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.filter(pk=order.pk).update(filled_quantity=Decimal("2.001"))


def test_take_profit_must_name_its_entry_leg():
    entry = OrderFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.create(
            group=entry.group,
            role="take_profit",
            symbol="BTC/USDT",
            side="sell",
            order_type="limit",
            price=Decimal("102"),
            quantity=Decimal("2"),
        )


def test_pyramid_index_is_unique_in_its_group():
    pyramid = PyramidFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        PyramidFactory(group=pyramid.group, index=0)
