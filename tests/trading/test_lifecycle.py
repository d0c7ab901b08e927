"""The order lifecycle on the paper exchange, one sync cycle at a time: the reference's worked examples.

Statistics use average cost, as the reference's fill-tracking replay does: a take-profit exit
realises (exit − average) × quantity and leaves the average of what remains unchanged.
"""

from decimal import Decimal

import pytest

from exchanges.models import ExchangeAccount, PaperOrder
from exchanges.paper.connector import PaperConnector
from exchanges.paper.services import paper_price_set
from tests.factories import DCAConfigurationFactory
from trading.models import JournalEntry, Order, PositionGroup, Pyramid
from trading.services.closing import position_close
from trading.services.sync import prices_sync, symbol_sync

pytestmark = pytest.mark.django_db
D = Decimal
THREE_LEGS = [
    {"gap_percent": "0", "weight_percent": "33.34", "tp_percent": "2"},
    {"gap_percent": "-2", "weight_percent": "33.33", "tp_percent": "2.5"},
    {"gap_percent": "-4", "weight_percent": "33.33", "tp_percent": "3"},
]


def configure(user, **fields):
    values = {"pair": "SOL/USDT", "levels": THREE_LEGS, "capital_usd": D("300"), "tp_mode": "per_leg"}
    values.update(fields)
    return DCAConfigurationFactory(user=user, **values)


def cycle(price=None, *, symbol="SOL/USDT"):
    """One beat cycle: move the market (optional), then sync fills and prices of every account;
    the latest group of ``symbol``."""
    if price is not None:
        paper_price_set(exchange_id="binance", symbol=symbol, price=D(price))
    for account in ExchangeAccount.objects.all():
        for symbol in set(
            Order.objects.filter(status__in=["open", "partially_filled", "unknown"]).values_list("symbol", flat=True)
        ):
            symbol_sync(account_id=account.pk, symbol=symbol)
        prices_sync(account_id=account.pk)
    return PositionGroup.objects.filter(symbol=symbol).order_by("created_at").last()


def open_sol(route, **kwargs):
    signal = route(symbol="SOLUSDT", entry_price="100", **kwargs)
    assert signal.status == "opened", signal.reason
    return PositionGroup.objects.get(symbol="SOL/USDT")


def close_the_aggregate_example(route, sol):
    """The reference's aggregate take-profit example: legs at 100 and 98 (1.0 SOL each, resting) closed at 102
    by the aggregate take-profit's market sell of 2.0; the closed group."""
    configure(
        sol,
        tp_mode="aggregate",
        tp_aggregate_percent=D("3"),
        capital_usd=D("200"),
        levels=[
            {"gap_percent": "0", "weight_percent": "50", "tp_percent": "2"},
            {"gap_percent": "-2", "weight_percent": "50", "tp_percent": "2"},
        ],
    )
    open_sol(route)
    cycle("98")
    return cycle("102")


def test_per_leg_take_profit_is_placed_for_the_filled_quantity_and_closes_that_leg(route, sol):
    configure(sol)
    open_sol(route)

    group = cycle("99.50")  # leg 0 (100.00) fills
    take_profit = Order.objects.get(role="take_profit")
    assert (take_profit.side, take_profit.price, take_profit.quantity, take_profit.status) == (
        "sell",
        D("102.00"),
        D("1.0"),
        "open",
    )
    assert group.filled_dca_legs == 1

    group = cycle("102.10")
    take_profit.refresh_from_db()
    assert take_profit.status == "filled"
    assert (group.total_filled_quantity, group.realized_pnl_usd, group.status) == (D("0"), D("2.0"), "partially_filled")
    assert group.orders.filter(role="entry", status="open").count() == 2  # the other legs keep waiting


def test_take_profit_is_computed_from_the_actual_fill_price(route, sol):
    configure(sol, entry_order_type="market")
    open_sol(route)

    cycle("99.37")  # the market leg fires at 99.37, below its 100.00 trigger

    leg0 = Order.objects.get(leg_index=0)
    assert (leg0.status, leg0.avg_fill_price, leg0.decision_price) == ("filled", D("99.37"), D("99.37"))
    assert Order.objects.get(role="take_profit", entry_order=leg0).price == D(
        "101.36"
    )  # 99.37 × 1.02 = 101.3574, a sell: up; not 102.00


def test_planned_price_option_keeps_the_reference_behaviour(route, sol):
    configure(sol, entry_order_type="market", tp_from_planned_price=True)
    open_sol(route)
    cycle("99.37")
    assert Order.objects.get(role="take_profit").price == D("102.00")


def test_aggregate_reference_example_closes_two_at_102_realising_6(route, sol):
    configure(
        sol,
        tp_mode="aggregate",
        tp_aggregate_percent=D("3"),
        levels=[
            {"gap_percent": "0", "weight_percent": "50", "tp_percent": "2"},
            {"gap_percent": "-2", "weight_percent": "50", "tp_percent": "2"},
        ],
        capital_usd=D("200"),
    )
    open_sol(route)

    group = cycle("98")
    assert (group.weighted_avg_entry, group.total_filled_quantity, group.status) == (D("99"), D("2.0"), "active")
    assert not Order.objects.filter(role="take_profit").exists()  # aggregate mode places no per-leg orders
    group = cycle("101.96")
    assert group.status == "active"  # target is 99 × 1.03 = 101.97

    group = cycle("102")

    assert (group.status, group.exit_reason) == ("closed", "aggregate_tp")
    assert group.realized_pnl_usd == D("6.0")
    assert Order.objects.get(role="exit").quantity == D("2.0")
    assert JournalEntry.objects.get(kind="close").exit_reason == "aggregate_tp"


def test_hybrid_scenario_a_per_leg_take_profit_wins_and_the_rest_carries_on(route, sol):
    configure(sol, tp_mode="hybrid", tp_aggregate_percent=D("5"))
    open_sol(route)
    group = cycle("96")
    assert (group.weighted_avg_entry, group.total_filled_quantity) == (D("98"), D("3.0"))
    assert sorted(Order.objects.filter(role="take_profit").values_list("price", flat=True)) == [
        D("98.88"),
        D("100.45"),
        D("102.00"),
    ]

    group = cycle("99")  # leg 2's take-profit (98.88) fills first

    assert group.status == "active"
    assert (group.total_filled_quantity, group.realized_pnl_usd) == (D("2.0"), D("0.88"))
    assert Order.objects.filter(role="take_profit", status="open").count() == 2  # aggregate still watches 102.90


def test_hybrid_scenario_b_aggregate_wins_cancels_take_profits_and_closes_the_rest(route, sol):
    configure(
        sol, tp_mode="hybrid", tp_aggregate_percent=D("1"), levels=[{**leg, "tp_percent": "5"} for leg in THREE_LEGS]
    )
    open_sol(route)
    cycle("96")

    group = cycle("99")  # 98 × 1.01 = 98.98 reached before any 5 % take-profit

    assert (group.status, group.exit_reason, group.realized_pnl_usd) == ("closed", "aggregate_tp", D("3.0"))
    assert set(Order.objects.filter(role="take_profit").values_list("status", flat=True)) == {"cancelled"}
    assert not PaperOrder.objects.filter(status="open").exists()


class TakeProfitFillsDuringCancel(PaperConnector):
    """The exchange fills a take-profit in the instant before our cancel reaches it."""

    def cancel_order(self, *, symbol, id="", client_order_id=""):
        order = Order.objects.get(client_order_id=client_order_id)
        if order.role == "take_profit" and order.entry_order.leg_index == 2:  # the lowest, 100.80
            paper_price_set(exchange_id=self.exchange_id, symbol=symbol, price=order.price)
            paper_price_set(exchange_id=self.exchange_id, symbol=symbol, price=D("99"))
        return super().cancel_order(symbol=symbol, id=id, client_order_id=client_order_id)


def test_hybrid_close_never_sells_more_than_is_still_held(route, sol):
    configure(
        sol, tp_mode="hybrid", tp_aggregate_percent=D("1"), levels=[{**leg, "tp_percent": "5"} for leg in THREE_LEGS]
    )
    group = open_sol(route)
    cycle("96")
    connector = TakeProfitFillsDuringCancel(ExchangeAccount.objects.get())
    PositionGroup.objects.filter(pk=group.pk).update(status="closing")

    position_close(group_id=group.pk, reason="aggregate_tp", connector=connector)

    group.refresh_from_db()
    assert Order.objects.get(role="exit").quantity == D("2.0")  # 3.0 held − 1.0 sold by the take-profit
    assert group.status == "closed" and group.total_filled_quantity == 0
    assert not Order.objects.filter(status="failed").exists()


def test_pyramid_aggregate_reference_example_closes_pyramids_separately(route, sol):
    one_leg = [{"gap_percent": "0", "weight_percent": "100", "tp_percent": "10"}]
    configure(
        sol,
        tp_mode="pyramid_aggregate",
        tp_aggregate_percent=D("2"),
        levels=one_leg,
        capital_usd=D("100"),
        pyramid_tp_percents={"1": "2.5", "2": "3"},
    )
    paper_price_set(exchange_id="binance", symbol="SOL/USDT", price=D("100"))
    route(symbol="SOLUSDT", entry_price="100")
    paper_price_set(exchange_id="binance", symbol="SOL/USDT", price=D("95"))
    route(symbol="SOLUSDT", entry_price="95")
    paper_price_set(exchange_id="binance", symbol="SOL/USDT", price=D("90"))
    route(symbol="SOLUSDT", entry_price="90")
    group = cycle("90")
    assert list(group.pyramids.values_list("status", flat=True)) == ["filled"] * 3

    cycle("93")  # pyramid 3's target 90 × 1.03 = 92.70
    assert list(Pyramid.objects.order_by("index").values_list("status", flat=True)) == ["filled", "filled", "closed"]
    assert [
        closed_at is not None for closed_at in Pyramid.objects.order_by("index").values_list("closed_at", flat=True)
    ] == [False, False, True]  # the API serves when each pyramid closed
    cycle("98")  # pyramid 2's target 95 × 1.025 = 97.375
    assert list(Pyramid.objects.order_by("index").values_list("status", flat=True)) == ["filled", "closed", "closed"]
    group = cycle("102")  # pyramid 1's target 100 × 1.02 = 102

    assert (group.status, group.exit_reason) == ("closed", "pyramid_tp")
    assert not Pyramid.objects.filter(closed_at__isnull=True).exists()
    assert list(Order.objects.filter(role="exit").order_by("created_at").values_list("quantity", "avg_fill_price")) == [
        (D("1.1"), D("93")),
        (D("1.0"), D("98")),
        (D("1.0"), D("102")),
    ]


def test_stop_loss_percent_closes_the_position(route, sol):
    configure(sol, stop_loss_percent=D("5"))
    open_sol(route)
    group = cycle("99.5")
    assert group.weighted_avg_entry == D("100")

    group = cycle("94.99")  # legs 1 and 2 fill too: average 98, stop at 93.10
    assert group.status == "active"
    group = cycle("93.10")

    assert (group.status, group.exit_reason) == ("closed", "stop_loss")
    assert group.realized_pnl_usd == D("-14.70")  # 3.0 × (93.10 − 98)


def test_stop_loss_price_from_the_signal_closes_the_position(route, sol):
    configure(sol)
    open_sol(route, risk={"max_slippage_percent": 0.5, "stop_loss": "99", "take_profit": None})
    cycle("99.5")

    group = cycle("98.99")

    assert (group.status, group.exit_reason) == ("closed", "stop_loss")


def test_slippage_over_the_limit_is_recorded_on_the_order(route, sol):
    configure(sol, entry_order_type="market", max_slippage_percent=D("0.1"))
    ExchangeAccount.objects.update(market_slippage_percent=D("0.5"))
    open_sol(route, risk={"max_slippage_percent": None, "stop_loss": None, "take_profit": None})

    cycle("99")

    leg0 = Order.objects.get(leg_index=0)
    assert (leg0.avg_fill_price, leg0.slippage_outcome) == (D("99.50"), "warned")
    assert leg0.slippage_percent.quantize(D("0.0001")) == D("0.5051")


def test_reject_sends_a_limit_protected_order_instead(route, sol):
    configure(sol, entry_order_type="market", max_slippage_percent=D("0.1"), slippage_action="reject")
    ExchangeAccount.objects.update(market_slippage_percent=D("0.5"))
    open_sol(route, risk={"max_slippage_percent": None, "stop_loss": None, "take_profit": None})

    cycle("99")

    leg0 = Order.objects.get(leg_index=0)
    assert (leg0.order_type, leg0.price, leg0.slippage_outcome) == ("limit", D("99.09"), "protected")
    assert leg0.avg_fill_price <= D("99.09")


def test_the_alerts_max_slippage_wins_over_the_configurations(route, sol):
    # Row 13 of the books review: the README said the alert's max_slippage_percent wins; it was ignored.
    configure(sol, entry_order_type="market", max_slippage_percent=D("1"), slippage_action="reject")
    ExchangeAccount.objects.update(market_slippage_percent=D("0.5"))
    open_sol(route, risk={"max_slippage_percent": 0.1, "stop_loss": None, "take_profit": None})

    cycle("99")

    leg0 = Order.objects.get(leg_index=0)
    assert (leg0.order_type, leg0.price, leg0.slippage_outcome) == ("limit", D("99.09"), "protected")  # 0.1 %, not 1 %


def test_applying_the_same_exchange_state_twice_changes_nothing(route, sol):
    configure(sol)
    open_sol(route)
    cycle("97.5")
    before = list(Order.objects.order_by("id").values_list("status", "filled_quantity", "updated_at"))
    group_before = PositionGroup.objects.values_list(
        "realized_pnl_usd", "total_filled_quantity", "filled_dca_legs"
    ).get()

    cycle()
    cycle()

    assert list(Order.objects.order_by("id").values_list("status", "filled_quantity", "updated_at")) == before
    assert (
        PositionGroup.objects.values_list("realized_pnl_usd", "total_filled_quantity", "filled_dca_legs").get()
        == group_before
    )


def test_partial_fills_update_the_position_at_once_and_the_take_profit_waits_for_the_whole_leg(route, sol):
    configure(sol)
    ExchangeAccount.objects.update(partial_fill_ratio=D("0.5"))
    open_sol(route)

    group = cycle("99.9")  # half of leg 0 (1.0 @ 100) fills in this matching pass

    leg0 = Order.objects.get(leg_index=0)
    assert (leg0.status, leg0.filled_quantity) == ("partially_filled", D("0.5"))
    assert (group.total_filled_quantity, group.weighted_avg_entry, group.status) == (
        D("0.5"),
        D("100"),
        "partially_filled",
    )
    assert not Order.objects.filter(role="take_profit").exists()

    group = cycle("99.8")  # the other half

    leg0.refresh_from_db()
    assert (leg0.status, leg0.filled_quantity) == ("filled", D("1.0"))
    assert Order.objects.get(role="take_profit").quantity == D("1.0")
    assert group.total_filled_quantity == D("1.0")
