"""A synthetic paper market with no price yet starts where the first alert's chart is, not at the shipped
reference price (ETH at 3,000 against an alert at 3,050.5 filled the whole ladder at once)."""

from decimal import Decimal

import pytest

from exchanges.models import PaperOrder, PaperPrice
from exchanges.paper.services import current_price, paper_feed_tick, paper_price_set
from tests.factories import DCAConfigurationFactory, ExchangeAccountFactory, UserFactory
from tests.signals import stored_signal
from trading.models import Order, PositionGroup
from trading.services.routing import signal_route

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def synthetic_trader(eager_celery):
    """A trader on a synthetic-feed paper account, trading ETH/USDT from the shipped market list (reference 3,000)."""
    user = UserFactory(username="synthetic")
    ExchangeAccountFactory(
        user=user,
        exchange_id="binance",
        price_feed="synthetic",
        synthetic_seed=7,
        starting_balance=D("100000"),
        maker_fee_percent=0,
        taker_fee_percent=0,
        market_slippage_percent=0,
    )
    DCAConfigurationFactory(user=user, pair="ETH/USDT")
    return user


def route(user, django_capture_on_commit_callbacks, **alert):
    signal = stored_signal(user, symbol="ETHUSDT", **alert)
    with django_capture_on_commit_callbacks(execute=True):
        signal_route(signal_id=signal.pk)
    signal.refresh_from_db()
    return signal


def test_the_first_alert_sets_the_first_paper_price_and_the_trade_starts_without_a_loss(
    synthetic_trader, django_capture_on_commit_callbacks
):
    assert current_price("binance", "ETH/USDT") is None

    signal = route(synthetic_trader, django_capture_on_commit_callbacks, entry_price="3050.5")

    assert signal.status == "opened", signal.reason
    assert current_price("binance", "ETH/USDT") == D("3050.50")
    legs = list(Order.objects.filter(role="entry").order_by("leg_index"))
    # Leg 0 sits at the alert's price and fills there; the ladder below it rests (at 3,000 all five filled).
    assert [(leg.status, leg.avg_fill_price) for leg in legs][:2] == [("filled", D("3050.50")), ("open", None)]
    assert [leg.status for leg in legs[1:]] == ["open"] * 4
    group = PositionGroup.objects.get()
    assert group.weighted_avg_entry == D("3050.50")
    assert group.unrealized_pnl_usd == 0


def test_the_synthetic_walk_continues_from_the_alerts_price(synthetic_trader, django_capture_on_commit_callbacks):
    route(synthetic_trader, django_capture_on_commit_callbacks, entry_price="3050.5")

    paper_feed_tick()

    # One step of the walk moves 0.1 % (one standard deviation): within 1 % of 3,050.5, far from 3,000.
    assert abs(current_price("binance", "ETH/USDT") - D("3050.5")) < D("30.5")


def test_a_market_that_has_a_price_keeps_it(synthetic_trader, django_capture_on_commit_callbacks):
    paper_price_set(exchange_id="binance", symbol="ETH/USDT", price=D("3000"))

    route(synthetic_trader, django_capture_on_commit_callbacks, entry_price="3050.5")

    assert current_price("binance", "ETH/USDT") == D("3000")


def test_a_manual_feed_is_not_moved_by_alerts(trader, eager_celery, django_capture_on_commit_callbacks):
    # The walkthrough trader's account is on the manual feed: prices move only by the operator's command.
    PaperPrice.objects.filter(symbol="ETH/USDT").delete()

    route(trader, django_capture_on_commit_callbacks, entry_price="3050.5")

    assert current_price("binance", "ETH/USDT") is None
    assert not PaperOrder.objects.filter(status="closed").exists()
