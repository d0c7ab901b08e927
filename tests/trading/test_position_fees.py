"""Fees on the position page: the position's total in its quote currency, and each fill's own fee."""

from decimal import Decimal

import pytest
from django.urls import reverse

from exchanges.models import ExchangeAccount
from tests.factories import OrderFactory, PositionGroupFactory
from tests.trading.test_lifecycle import close_the_aggregate_example
from trading.models import Order

pytestmark = pytest.mark.django_db
D = Decimal


def test_position_page_shows_the_total_fees_and_each_fills_fee_in_its_currency(client, trader, route, sol):
    # Given a paper account charging makers 0.05 % (paid in SOL on buys) and takers 0.1 % (in USDT on sells),
    # and legs at 100 and 98 closed at 102 by the aggregate take-profit's market sell
    ExchangeAccount.objects.filter(user=trader).update(maker_fee_percent=D("0.05"), taker_fee_percent=D("0.1"))
    group = close_the_aggregate_example(route, sol)
    legs = list(Order.objects.filter(role="entry").order_by("leg_index"))
    close = Order.objects.get(role="exit")
    assert [(leg.fee, leg.fee_currency) for leg in legs] == [(D("0.0005"), "SOL"), (D("0.0005"), "SOL")]
    assert close.fee_currency == "USDT" and close.fee > 0
    assert group.fees_usd == D("0.0005") * 100 + D("0.0005") * 98 + close.fee  # base fees at their fill price

    # When the trader opens the position
    client.force_login(trader)
    page = client.get(reverse("position-detail", args=[group.pk])).content.decode()

    # Then the total is a stat in USDT, and the timeline and the exits carry each fill's fee
    fees_stat = page.split('<div class="label">Fees</div>')[1].split("</div></div>")[0]
    assert f"{group.fees_usd:.2f} USDT" in fees_stat
    timeline = page.split("<h2>Timeline</h2>")[1]
    assert timeline.count(">0.0005 SOL<") == 2
    assert f">{close.fee.normalize():f} USDT<" in timeline
    exits = page.split("<h2>Exits</h2>")[1].split("</table>")[0]
    assert f">{close.fee.normalize():f} USDT<" in exits


def test_a_fee_paid_in_a_third_currency_shows_its_value_in_the_quote(client, trader):
    group = PositionGroupFactory(
        user=trader, exchange_account=trader.exchange_accounts.get(), status="active", fees_usd=D("0.12")
    )
    OrderFactory(
        group=group,
        status="filled",
        filled_quantity=D("2"),
        avg_fill_price=D("100"),
        fee=D("0.0002"),
        fee_currency="BNB",
        fee_rate=D("600"),
        filled_at=group.created_at,
    )

    client.force_login(trader)
    page = client.get(reverse("position-detail", args=[group.pk])).content.decode()

    assert "0.0002 BNB ≈ 0.12 USDT" in page.split("<h2>Timeline</h2>")[1]
