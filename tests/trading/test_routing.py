"""Signals to orders on the paper exchange: grids, pyramids, exit, reduce, reverse, rejections."""

from decimal import Decimal

import pytest

from exchanges.models import PaperOrder
from exchanges.paper.services import paper_price_set
from tests.signals import stored_signal
from trading.models import DCAConfiguration, JournalEntry, Order, PositionGroup, Pyramid, Signal
from trading.services.sync import symbol_sync

pytestmark = pytest.mark.django_db
D = Decimal
PERP = "BTC/USDT:USDT"  # the shipped paper perpetual the perpetuals fixture trades: contracts of 0.001 BTC


def paper_book(side=None, symbol="BTC/USDT"):
    orders = PaperOrder.objects.filter(symbol=symbol).order_by("pk")
    if side:
        orders = orders.filter(side=side)
    return [(o.side, o.order_type, o.price, o.amount, o.status) for o in orders]


def test_walkthrough_grid_reaches_the_paper_exchange_exactly(route):
    signal = route(entry_price="100")

    assert signal.status == "opened", signal.reason
    assert [(price, amount) for _, _, price, amount, _ in paper_book()] == [
        (D("100.00"), D("2.000")),
        (D("99.50"), D("2.010")),
        (D("99.00"), D("2.020")),
        (D("98.50"), D("2.030")),
        (D("98.00"), D("2.040")),
    ]
    group = PositionGroup.objects.get()
    assert (group.side, group.symbol, group.timeframe, group.pyramid_count, group.total_dca_legs) == (
        "long",
        "BTC/USDT",
        15,
        1,
        5,
    )
    # Leg 0 sits at the current price: it filled on arrival; the group holds 2.000 at 100.
    assert group.status == "partially_filled"
    assert (group.filled_dca_legs, group.total_filled_quantity, group.weighted_avg_entry) == (1, D("2.000"), D("100"))
    legs = list(Order.objects.filter(role="entry").order_by("leg_index"))
    assert [leg.status for leg in legs] == ["filled", "open", "open", "open", "open"]
    assert all(
        leg.client_order_id == PaperOrder.objects.get(client_order_id=leg.client_order_id).client_order_id
        for leg in legs
    )
    assert [leg.tp_price for leg in legs] == [D("102.00"), D("101.49"), D("100.98"), D("100.47"), D("99.96")]


def test_a_short_on_a_spot_account_is_refused_and_never_sells_the_accounts_own_coins(route):
    # Row 10 of the books review: a spot "short" sold the account's own coins, another position's included.
    from exchanges.models import PaperBalance

    PaperBalance.objects.create(
        account=PaperBalance.objects.model.account.field.related_model.objects.get(), asset="BTC", free=D("20")
    )

    signal = route(side="sell", market_position="short", entry_price="100")

    assert signal.status == "rejected"
    assert "shorting needs a swap account" in signal.reason and "Nothing was placed" in signal.reason
    assert paper_book() == [] and not PositionGroup.objects.exists()


def test_short_grid_sells_above_the_entry(route, perpetuals):
    paper_price_set(exchange_id="binance", symbol=PERP, price=D("99"))

    signal = route(side="sell", market_position="short", entry_price="100")

    assert signal.status == "opened", signal.reason
    # The walkthrough's sizes in BTC, sent as contracts of 0.001 BTC: 2.000 BTC is 2000 contracts.
    assert [(side, price, amount) for side, _, price, amount, _ in paper_book(symbol=PERP)] == [
        ("sell", D("100.0"), D("2000")),
        ("sell", D("100.5"), D("1990")),
        ("sell", D("101.0"), D("1980")),
        ("sell", D("101.5"), D("1970")),
        ("sell", D("102.0"), D("1960")),
    ]
    group = PositionGroup.objects.get()
    assert (group.side, group.symbol) == ("short", PERP)
    assert [leg.quantity for leg in Order.objects.filter(role="entry").order_by("leg_index")] == [
        D("2.000"),
        D("1.990"),
        D("1.980"),
        D("1.970"),
        D("1.960"),
    ]


def test_group_goes_live_when_nothing_filled_on_arrival(route):
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("101"))
    route(entry_price="100")
    group = PositionGroup.objects.get()
    assert (group.status, group.filled_dca_legs) == ("live", 0)
    assert Pyramid.objects.get().status == "submitted"


@pytest.mark.parametrize(
    "kwargs,reason",
    [
        ({"symbol": "FOOUSDT"}, "Unknown market 'FOOUSDT' on binance"),
        ({"timeframe": "60"}, "No DCA configuration for BTC/USDT 60m on binance: add one in Settings → DCA"),
    ],
)
def test_rejected_signal_says_why_and_creates_nothing(route, kwargs, reason):
    signal = route(**kwargs)

    assert signal.status == "rejected"
    assert reason in signal.reason
    assert not PositionGroup.objects.exists() and not Order.objects.exists() and not PaperOrder.objects.exists()


def test_legs_below_the_minimum_notional_reject_the_signal_and_place_nothing(route, trader):
    DCAConfiguration.objects.filter(user=trader, pair="BTC/USDT").update(capital_usd=D("40"))  # 8 USD per leg

    signal = route()

    assert signal.status == "rejected"
    assert "Leg 0: order value 8.00000 is below the exchange minimum 10" in signal.reason
    assert not PositionGroup.objects.exists() and not PaperOrder.objects.exists()


def test_unknown_exchange_account_is_rejected_with_a_fix(route, trader):
    payload_signal = stored_signal(trader)
    payload_signal.payload["tv"]["exchange"] = "KRAKEN"
    payload_signal.save()
    from trading.services.routing import signal_route

    signal_route(signal_id=payload_signal.pk)
    payload_signal.refresh_from_db()
    assert payload_signal.status == "rejected"
    assert "No exchange account for 'kraken'" in payload_signal.reason


def test_exchange_default_config_is_used_when_no_specific_one_exists(route, trader):
    DCAConfiguration.objects.filter(user=trader, pair="BTC/USDT").update(pair="*", timeframe=None)
    assert route(timeframe="240").status == "opened"
    assert PositionGroup.objects.get().timeframe == 240


def test_pyramid_grid_is_computed_from_its_own_entry_price(route):
    route(entry_price="100")
    signal = route(entry_price="95")

    assert signal.status == "pyramided", signal.reason
    group = PositionGroup.objects.get()
    assert (group.pyramid_count, group.pyramids.count(), group.total_dca_legs) == (2, 2, 10)
    second = Pyramid.objects.get(index=1)
    assert list(second.orders.order_by("leg_index").values_list("price", flat=True)) == [
        D("95.00"),
        D("94.52"),
        D("94.05"),
        D("93.57"),
        D("93.10"),
    ]


def test_pyramid_override_ladder_applies_to_its_index(route, trader):
    DCAConfiguration.objects.filter(user=trader, pair="BTC/USDT").update(
        pyramid_levels={"1": [{"gap_percent": "-1", "weight_percent": "100", "tp_percent": "3"}]}
    )
    route(entry_price="100")
    route(entry_price="95")
    assert list(Pyramid.objects.get(index=1).orders.values_list("price", "quantity")) == [(D("94.05"), D("10.632"))]


def test_signals_beyond_max_pyramids_are_ignored_with_a_warning(route, trader):
    DCAConfiguration.objects.filter(user=trader, pair="BTC/USDT").update(max_pyramids=2)
    route(entry_price="100")
    route(entry_price="99")
    third = route(entry_price="98")

    assert third.status == "ignored"
    assert "Max pyramids reached (2/2)" in third.reason
    assert PositionGroup.objects.get().pyramids.count() == 2


def test_exit_cancels_resting_orders_and_market_closes_what_is_held(route):
    route(entry_price="100")  # leg 0 filled at 100
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("104"))

    signal = route(intent="exit", side="sell", prev_market_position="long", market_position="flat", entry_price="104")

    assert signal.status == "exited", signal.reason
    group = PositionGroup.objects.get()
    assert (group.status, group.exit_reason, group.total_filled_quantity) == ("closed", "exit_signal", D("0"))
    assert group.realized_pnl_usd == D("8.000")  # 2.000 × (104 − 100), no fees on this account
    assert PaperOrder.objects.filter(status="open").count() == 0
    exit_order = Order.objects.get(role="exit")
    assert (exit_order.side, exit_order.order_type, exit_order.quantity, exit_order.status) == (
        "sell",
        "market",
        D("2.000"),
        "filled",
    )
    record = JournalEntry.objects.get(kind="close")
    assert (record.exit_price, record.quantity_closed, record.realized_pnl_usd) == (D("104"), D("2.000"), D("8.000"))


def test_exit_without_a_position_is_ignored(route):
    signal = route(intent="exit", side="sell", prev_market_position="long", market_position="flat")
    assert (signal.status, signal.reason) == ("ignored", "No open long BTC/USDT 15m position to exit.")


def test_exit_of_the_other_side_leaves_the_position_alone(route):
    route(entry_price="100")
    signal = route(intent="exit", side="buy", prev_market_position="short", market_position="flat")
    assert signal.status == "ignored"
    assert PositionGroup.objects.get().status == "partially_filled"


def test_reduce_market_closes_part_of_the_position(route):
    route(entry_price="100")
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("98.9"))  # legs 1 and 2 fill too
    group = PositionGroup.objects.get()
    symbol_sync(account_id=group.exchange_account_id, symbol="BTC/USDT")
    group.refresh_from_db()
    assert group.total_filled_quantity == D("6.030")

    signal = route(
        intent="reduce", side="sell", market_position="long", entry_price="98.9", order_size="1.5", size_type="base"
    )

    assert signal.status == "reduced", signal.reason
    group.refresh_from_db()
    assert group.total_filled_quantity == D("4.530")
    assert group.status == "partially_filled"
    assert Order.objects.get(role="exit").quantity == D("1.500")


def test_reverse_closes_the_long_then_opens_the_short(route, trader, perpetuals):
    from exchanges.models import PaperPosition

    route(entry_price="100")  # leg 0 fills on arrival: long 2.000 BTC

    signal = route(
        intent="reverse", side="sell", market_position="short", prev_market_position="long", entry_price="100"
    )

    assert signal.status == "reversed", signal.reason
    long_group = PositionGroup.objects.get(side="long")
    short_group = PositionGroup.objects.get(side="short")
    assert (long_group.status, long_group.exit_reason) == ("closed", "reverse")
    exit_order = PaperOrder.objects.get(client_order_id=Order.objects.get(role="exit").client_order_id)
    assert (exit_order.side, exit_order.amount, exit_order.reduce_only) == ("sell", D("2000"), True)
    assert short_group.pyramid_count == 1
    assert short_group.orders.filter(role="entry").exclude(status="pending").count() == 5
    # The short's leg 0 (sell 2.000 at 100) filled on arrival: the account is short 2000 contracts, not flat.
    position = PaperPosition.objects.get(account=perpetuals, symbol=PERP)
    assert (position.side, position.contracts) == ("short", D("2000"))


def test_a_reverse_whose_close_is_refused_never_opens_the_other_side(route, trader, perpetuals):
    # Row 12 of the books review: the new side was opened although closing the old side had failed.
    from exchanges.paper.connector import PaperConnector
    from trading.models import RiskConfig
    from trading.services.orders import order_cancel

    route(entry_price="100")
    paper_price_set(exchange_id="binance", symbol=PERP, price=D("97"))  # the long's legs fill
    symbol_sync(account_id=perpetuals.pk, symbol=PERP)
    connector = PaperConnector(perpetuals)
    for take_profit in Order.objects.filter(role="take_profit"):  # the take-profits gone as well
        order_cancel(take_profit, connector)
    held = PositionGroup.objects.get(side="long").total_filled_quantity
    connector.create_order(  # the trader closed the position by hand on the exchange
        symbol=PERP, side="sell", type="market", amount=held, price=None, client_order_id="by-hand", reduce_only=True
    )
    RiskConfig.objects.update_or_create(user=trader, defaults={"max_open_positions_per_symbol": 2})  # room for both

    signal = route(
        intent="reverse", side="sell", market_position="short", prev_market_position="long", entry_price="97"
    )

    signal.refresh_from_db()
    long_group = PositionGroup.objects.get(side="long")
    short_group = PositionGroup.objects.get(side="short")
    assert long_group.status != "closed" and "Close failed" in long_group.status_reason
    assert short_group.status == "failed"
    short_ids = short_group.orders.values_list("client_order_id", flat=True)
    assert not PaperOrder.objects.filter(client_order_id__in=short_ids).exists()  # no short leg reached the exchange
    assert (
        signal.status == "failed" and "closing the long BTC/USDT:USDT position first did not complete" in signal.reason
    )


def test_a_reverse_on_a_spot_account_closes_the_long_and_refuses_the_short(route, trader):
    route(entry_price="100")

    signal = route(
        intent="reverse", side="sell", market_position="short", prev_market_position="long", entry_price="100"
    )

    assert signal.status == "rejected" and "shorting needs a swap account" in signal.reason
    assert PositionGroup.objects.get(side="long").status == "closed"
    assert not PositionGroup.objects.filter(side="short").exists()


def test_every_routed_signal_ends_with_a_status_and_reason(route):
    for kwargs in (
        {},
        {"entry_price": "99"},
        {"symbol": "NOPE"},
        {"intent": "exit", "side": "sell", "prev_market_position": "long"},
    ):
        route(**kwargs)
    assert not Signal.objects.filter(status="received").exists()
    assert not Signal.objects.filter(reason="").exists()


def test_market_entry_type_keeps_leg_0_waiting_for_its_price(route, trader):
    DCAConfiguration.objects.filter(user=trader, pair="BTC/USDT").update(entry_order_type="market")

    route(entry_price="100")

    leg0 = Order.objects.get(leg_index=0)
    assert (leg0.order_type, leg0.status, leg0.price) == ("market", "trigger_pending", D("100.00"))
    assert not PaperOrder.objects.filter(client_order_id=leg0.client_order_id).exists()
    assert PaperOrder.objects.count() == 4
    assert PositionGroup.objects.get().status == "live"


def test_stop_loss_price_from_the_signal_is_kept_on_the_group(route):
    route(entry_price="100", risk={"max_slippage_percent": 0.5, "stop_loss": "90", "take_profit": None})
    assert PositionGroup.objects.get().stop_loss_price == D("90")


def test_config_snapshot_keeps_the_group_on_the_ladder_it_opened_with(route, trader):
    route(entry_price="100")
    DCAConfiguration.objects.filter(user=trader, pair="BTC/USDT").update(
        levels=[{"gap_percent": "0", "weight_percent": "100", "tp_percent": "1"}]
    )

    route(entry_price="95")

    assert Pyramid.objects.get(index=1).orders.count() == 5  # the snapshot's five legs, not the edited one


def test_an_alert_that_waited_out_an_outage_is_not_traded_late(route, trader):
    from datetime import timedelta

    from django.utils import timezone

    from tests.signals import stored_signal
    from trading.services.routing import signal_route

    signal = stored_signal(trader, entry_price="100")
    Signal.objects.filter(pk=signal.pk).update(received_at=timezone.now() - timedelta(minutes=17))

    signal = signal_route(signal_id=signal.pk)  # its task finally reaches a worker

    assert signal.status == "failed"
    assert "arrived 17 minutes ago" in signal.reason and "Send it again" in signal.reason
    assert not PositionGroup.objects.exists() and not PaperOrder.objects.exists()


def test_an_alert_routed_within_the_sweeps_window_is_still_traded(route, trader):
    from datetime import timedelta

    from django.utils import timezone

    from tests.signals import stored_signal
    from trading.services.routing import signal_route

    signal = stored_signal(trader, entry_price="100")
    Signal.objects.filter(pk=signal.pk).update(received_at=timezone.now() - timedelta(minutes=15))

    assert signal_route(signal_id=signal.pk).status == "opened"


def test_a_late_exit_still_closes_the_position(route, trader):
    from datetime import timedelta

    from django.utils import timezone

    from tests.signals import stored_signal
    from trading.services.routing import signal_route

    assert route(entry_price="100").status == "opened"
    exit_signal = stored_signal(
        trader, intent="exit", side="sell", market_position="flat", prev_market_position="long", entry_price="100"
    )
    Signal.objects.filter(pk=exit_signal.pk).update(received_at=timezone.now() - timedelta(minutes=40))

    assert signal_route(signal_id=exit_signal.pk).status == "exited"
