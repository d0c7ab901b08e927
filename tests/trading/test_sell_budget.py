"""One sell budget per position: what reached the exchange never sells more than the position bought.

Each test replays one row of the books review (issue 15) on the paper exchange and asserts what the
exchange sold for the group against what it bought, net of base-asset fees.
"""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db.models import Sum
from django.test import TestCase

from exchanges.models import ExchangeAccount, PaperOrder
from exchanges.numbers import round_to_step
from exchanges.paper.connector import PaperConnector
from exchanges.paper.services import paper_order_cancel, paper_price_set
from tests.concurrency import at_once
from tests.drills import arm_faults, set_dialect
from tests.factories import DCAConfigurationFactory
from tests.trading.test_lifecycle import configure, cycle
from trading.models import ExitReason, Order, PositionGroup
from trading.services.closing import exit_order_create, position_close
from trading.services.fills import group_refresh_stats
from trading.services.lifecycle import group_evaluate, position_reduce
from trading.services.orders import order_cancel, order_place
from trading.services.sync import symbol_sync

pytestmark = pytest.mark.django_db
D = Decimal


def exchange_totals(symbol="SOL/USDT") -> tuple[Decimal, Decimal]:
    """(bought, sold) on the paper exchange for ``symbol``, net of base fees on the buys."""
    orders = PaperOrder.objects.filter(symbol=symbol)
    bought = orders.filter(side="buy").aggregate(q=Sum("filled"))["q"] or D(0)
    base_fees = orders.filter(side="buy", fee_currency=symbol.split("/")[0]).aggregate(f=Sum("fee"))["f"] or D(0)
    sold = orders.filter(side="sell").aggregate(q=Sum("filled"))["q"] or D(0)
    return bought - base_fees, sold


def arm(fault: str, count: int = 1) -> None:
    arm_faults(ExchangeAccount.objects.get(), **{fault: count})


def open_and_fill(route) -> PositionGroup:
    signal = route(symbol="SOLUSDT", entry_price="100")
    assert signal.status == "opened", signal.reason
    group = cycle("95")  # every leg (100, 98, 96) fills; take-profits go up
    assert group.total_filled_quantity == D("3.0")
    assert group.orders.filter(role="take_profit", status="open").count() == 3
    return group


@pytest.mark.parametrize("dialect", ["plain", "binance", "bybit"])
def test_a_stop_loss_exit_whose_answer_was_lost_is_never_sold_twice(route, sol, dialect):
    # In the binance dialect a resend of the filled exit's client order id would be accepted (as on
    # Binance, once the first order is closed): only a lookup first keeps it single.
    ExchangeAccount.objects.update(paper_dialect=dialect)
    # Row 1: the lost answer of the final attempt was booked "failed"; the next cycle sold again
    # (20.2 BTC sold for a 10.1 BTC position).
    configure(sol, stop_loss_percent=D("5"))
    open_and_fill(route)
    arm("lose_answer_after_accept")

    group = cycle("90")  # 90 < 98 × 0.95: the stop fires; the exchange takes the exit, its answer is lost
    exit_order = group.orders.get(role="exit")
    assert exit_order.status == "unknown"  # not "failed": the exchange may well have it
    group = cycle("89")  # the fill sync looks it up by client order id
    group = cycle("88")

    assert exchange_totals() == (D("3.0"), D("3.0"))
    exit_order.refresh_from_db()
    assert exit_order.status == "filled"
    assert group.status == "closed" and group.total_filled_quantity == 0


def test_a_reduce_with_a_lost_answer_re_places_take_profits_only_for_what_is_left(route, sol):
    # Row 2: take-profits were re-placed for the whole position before the exit's fill was known
    # (14.1 BTC sold for 10.1 bought).
    configure(sol)
    group = open_and_fill(route)
    arm("lose_answer_after_accept")

    position_reduce(group_id=group.pk, reason=ExitReason.REDUCE, quantity=D("1.0"), request_key="signal-1")

    live_take_profits = Order.objects.filter(role="take_profit", status="open")
    assert sum(tp.quantity for tp in live_take_profits) == D("2.0")
    group = cycle("105")  # every take-profit fills
    group = cycle("106")
    assert exchange_totals() == (D("3.0"), D("3.0"))
    assert group.status == "closed" and group.oversold_quantity == 0


def test_a_second_close_while_an_exit_rests_on_the_exchange_joins_it_instead_of_selling_again(route, sol):
    # Row 3: the stalled-work sweep re-sent a full close while the first (slippage-protected) exit still rested.
    configure(sol)
    group = open_and_fill(route)
    for take_profit in Order.objects.filter(role="take_profit"):
        order_cancel(take_profit, PaperConnector(group.exchange_account))
    group = group_refresh_stats(group_id=group.pk)
    resting = exit_order_create(
        group, D("3.0"), ExitReason.MANUAL, PaperConnector(group.exchange_account), decision_price=D("95")
    )
    Order.objects.filter(pk=resting.pk).update(order_type="limit", price=D("120.00"))  # as a protected exit left behind
    order_place(resting, PaperConnector(group.exchange_account))
    resting.refresh_from_db()
    assert resting.status == "open"

    position_close(group_id=group.pk, reason=ExitReason.MANUAL)  # the sweep's re-send
    position_close(group_id=group.pk, reason=ExitReason.MANUAL)

    assert PaperOrder.objects.filter(side="sell", status="open").count() == 1
    assert Order.objects.filter(role="exit").count() == 1
    group = cycle("121")  # the resting exit fills
    assert exchange_totals() == (D("3.0"), D("3.0"))
    assert group.status == "closed"


def test_a_leg_cancelled_while_its_placement_is_in_flight_is_taken_off_the_exchange(route, sol):
    # Row 5: cancelled in the database, live on the exchange until reconciliation (≤ 300 s).
    configure(sol)
    signal = route(symbol="SOLUSDT", entry_price="100")
    group = PositionGroup.objects.get(pk=signal.position_group_id)
    leg = group.orders.filter(role="entry").order_by("leg_index").last()
    Order.objects.filter(pk=leg.pk).update(status="pending", exchange_order_id="", submitted_at=None)
    paper_order_cancel(account=group.exchange_account, client_order_id=leg.client_order_id)
    PaperOrder.objects.filter(client_order_id=leg.client_order_id).delete()  # as if never sent

    class CloseDuringPlacement(PaperConnector):
        def create_order(self, **kwargs):
            order_cancel(Order.objects.get(pk=leg.pk), PaperConnector(self.account))  # another worker's close
            return super().create_order(**kwargs)

    order_place(leg, CloseDuringPlacement(group.exchange_account))

    leg.refresh_from_db()
    assert leg.status == "cancelled"
    assert PaperOrder.objects.get(client_order_id=leg.client_order_id).status == "canceled"


def test_an_ids_only_cancel_answer_is_followed_by_a_lookup_for_what_the_order_filled(route, sol):
    # Row 6: Bybit answers a cancel with ids only; read as "cancelled, no new fills", 2.015 BTC were left untracked.
    ExchangeAccount.objects.update(partial_fill_ratio=D("0.5"))
    configure(sol)
    signal = route(symbol="SOLUSDT", entry_price="100")
    group = PositionGroup.objects.get(pk=signal.position_group_id)
    paper_price_set(exchange_id="binance", symbol="SOL/USDT", price=D("97.5"))  # legs 0 and 1 fill half; no sync yet

    class IdsOnly(PaperConnector):
        def cancel_order(self, **kwargs):
            super().cancel_order(**kwargs)
            return None

    for leg in group.orders.filter(role="entry"):
        order_cancel(leg, IdsOnly(group.exchange_account))

    group = group_refresh_stats(group_id=group.pk)
    assert group.total_filled_quantity == D("1.0")  # from the exchange, not the stale "open, 0 filled"
    position_close(group_id=group.pk, reason=ExitReason.MANUAL, connector=IdsOnly(group.exchange_account))
    assert exchange_totals() == (D("1.0"), D("1.0"))
    group.refresh_from_db()
    assert group.status == "closed"


def test_concurrent_evaluations_of_one_pyramid_target_sell_it_once(route, sol, transactional_db):
    # Row 1 (pyramid_aggregate): the price task and the fill sync evaluated one group at once and both
    # closed the pyramid: 20.1 sold for 10.05.
    configure(sol, tp_mode="pyramid_aggregate", tp_aggregate_percent=D("1"))
    signal = route(symbol="SOLUSDT", entry_price="100")
    group = PositionGroup.objects.get(pk=signal.position_group_id)
    paper_price_set(exchange_id="binance", symbol="SOL/USDT", price=D("95"))
    symbol_sync(account_id=group.exchange_account_id, symbol="SOL/USDT")
    paper_price_set(exchange_id="binance", symbol="SOL/USDT", price=D("99.5"))  # above 98 × 1.01
    PositionGroup.objects.filter(pk=group.pk).update(current_price=D("99.5"))
    outcomes = at_once(lambda: group_evaluate(group_id=group.pk), 2)

    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert exchange_totals() == (D("3.0"), D("3.0"))
    assert Order.objects.filter(role="exit").count() == 1


def test_the_last_take_profit_sells_every_sellable_unit_and_the_residue_closes_the_group_as_dust(trader, route):
    # Row 9: sub-step residue of base-asset fees never got a take-profit; the group stayed active
    # forever (a pool slot held, the next entry swallowed as a pyramid).
    account = ExchangeAccount.objects.get()
    ExchangeAccount.objects.filter(pk=account.pk).update(maker_fee_percent=D("0.1"), taker_fee_percent=D("0.1"))
    call_command(
        "paper",
        "market",
        "binance",
        "XBT/USDT",
        "--tick",
        "0.01",
        "--step",
        "0.00001",
        "--min-qty",
        "0.00001",
        "--min-notional",
        "5",
    )
    paper_price_set(exchange_id="binance", symbol="XBT/USDT", price=D("60001"))
    DCAConfigurationFactory(
        user=trader,
        pair="XBT/USDT",
        capital_usd=D("1000"),
        levels=[
            {"gap_percent": gap, "weight_percent": "20", "tp_percent": "2"} for gap in ("0", "-0.5", "-1", "-1.5", "-2")
        ],
    )
    signal = route(symbol="XBTUSDT", entry_price="60000")
    assert signal.status == "opened", signal.reason
    cycle("58000", symbol="XBT/USDT")
    group = cycle("58000", symbol="XBT/USDT")
    take_profits = list(group.orders.filter(role="take_profit"))
    assert len(take_profits) == 5
    bought, _ = exchange_totals("XBT/USDT")
    assert bought == D("0.01680318")  # 0.01682 less the 0.1 % fee taken in XBT
    # Each leg's own rounding would leave 0.0000332 behind, above one step: the last one takes it.
    assert sum(tp.quantity for tp in take_profits) == D("0.0168")

    group = cycle("70000", symbol="XBT/USDT")

    bought, sold = exchange_totals("XBT/USDT")
    assert sold == D("0.0168") and bought - sold == D("0.00000318")
    assert group.status == "closed"
    # Valued at the last take-profit's fill (a paper limit fills at its own price).
    assert group.dust_quantity == bought - sold
    assert group.dust_value in {group.dust_quantity * tp.price for tp in take_profits}
    assert "left as dust" in group.status_reason


def test_binance_fee_less_queries_take_the_fee_from_the_trades(trader, route):
    # Row 7: Binance's order queries carry no commission; every resting leg and take-profit got fee 0,
    # so take-profits asked for coins never received (refused, or selling the trader's other coins).
    ExchangeAccount.objects.update(maker_fee_percent=D("0.1"), taker_fee_percent=D("0.1"))
    set_dialect(ExchangeAccount.objects.get(), "binance")
    call_command("paper", "market", "binance", "SOL/USDT", "--tick", "0.01", "--step", "0.001", "--min-notional", "5")
    paper_price_set(exchange_id="binance", symbol="SOL/USDT", price=D("101"))
    configure(trader)
    signal = route(symbol="SOLUSDT", entry_price="100")
    assert signal.status == "opened", signal.reason

    group = cycle("95")  # the legs rest, then fill: the sync finds them through fee-less queries

    legs = list(group.orders.filter(role="entry").order_by("leg_index"))
    assert all(leg.fee_currency == "SOL" and leg.fee == leg.filled_quantity * D("0.001") for leg in legs)
    received = sum(leg.filled_quantity - leg.fee for leg in legs)
    # The take-profits sell what the legs received (2.997 of 3.000 bought), all that one step allows.
    assert sum(tp.quantity for tp in group.orders.filter(role="take_profit")) == round_to_step(received, D("0.001"))
    group = cycle("110")
    bought, sold = exchange_totals()
    assert sold <= bought and group.status == "closed"
    assert group.fees_usd > 0 and group.dust_quantity == bought - sold


def test_a_pyramid_target_after_a_group_reduce_sells_only_the_pyramids_share_of_what_is_left(route, sol):
    # Row 4: pyramid_aggregate sold the pyramid's own fills, ignoring group-level reduces and offsets:
    # it tried 10.05 with 4.05 held, a new refused exit every cycle.
    configure(sol, tp_mode="pyramid_aggregate", tp_aggregate_percent=D("2"))
    assert route(symbol="SOLUSDT", entry_price="100").status == "opened"
    cycle("97")
    assert route(symbol="SOLUSDT", entry_price="99").status == "pyramided"
    group = cycle("94")  # every leg of both pyramids filled: 3.0 at 100/98/96 and 3.0 at 99/97.02/95.04
    assert group.total_filled_quantity == D("6.0")
    position_reduce(
        group_id=group.pk, reason=ExitReason.REDUCE, quantity=D("4.0"), request_key="signal-1"
    )  # a group-level reduce

    group = cycle("101.5")  # both targets (98 × 1.02 and 97.02 × 1.02) are reached

    pyramid_exits = Order.objects.filter(role="exit", exit_reason="pyramid_tp")
    assert sorted(o.quantity for o in pyramid_exits) == [D("1.0"), D("1.0")]  # each its third of the 2.0 left
    assert not Order.objects.filter(role="exit", status="failed").exists()
    assert exchange_totals() == (D("6.0"), D("6.0"))
    assert group.status == "closed" and group.oversold_quantity == 0


def test_a_fee_paid_in_bnb_is_costed_at_the_bnb_price_not_booked_as_that_many_dollars(route, sol):
    # Row 8: a fee paid in BNB was booked as that many USD (0.0003675 BNB read as 0.0003675 USDT).
    from dataclasses import replace

    call_command("paper", "market", "binance", "BNB/USDT", "--tick", "0.01", "--step", "0.001")
    paper_price_set(exchange_id="binance", symbol="BNB/USDT", price=D("600"))

    class PaysFeesInBnb(PaperConnector):
        """Binance with "use BNB for fees": 0.075 % of each fill's value, charged in BNB."""

        def _in_bnb(self, order):
            if not order.filled:
                return order
            return replace(order, fee=order.filled * order.average * D("0.00075") / D("600"), fee_currency="BNB")

        def create_order(self, **kwargs):
            return self._in_bnb(super().create_order(**kwargs))

        def fetch_order(self, **kwargs):
            return self._in_bnb(super().fetch_order(**kwargs))

        def fetch_open_orders(self, symbol):
            return [self._in_bnb(order) for order in super().fetch_open_orders(symbol)]

        def fetch_closed_orders(self, symbol, since=None):
            return [self._in_bnb(order) for order in super().fetch_closed_orders(symbol, since)]

    configure(sol)
    signal = route(symbol="SOLUSDT", entry_price="100")
    group = PositionGroup.objects.get(pk=signal.position_group_id)
    paper_price_set(exchange_id="binance", symbol="SOL/USDT", price=D("95"))

    symbol_sync(
        account_id=group.exchange_account_id, symbol="SOL/USDT", connector=PaysFeesInBnb(ExchangeAccount.objects.get())
    )

    group.refresh_from_db()
    legs = group.orders.filter(role="entry")
    assert {(leg.fee_currency, leg.fee_rate) for leg in legs} == {("BNB", D("600"))}
    assert group.fees_usd == D("0.2205")  # 0.075 % of 100 + 98 + 96 USDT
    assert group.total_filled_quantity == D("3.0")  # a BNB fee takes nothing from the SOL received


def test_a_reduce_task_run_again_after_it_finished_sells_once(route, sol):
    # A reduce's task ran twice (a redelivered message, a retry after its exit had filled): the second
    # run sold the quantity again.
    configure(sol)
    group = open_and_fill(route)

    for _ in range(2):
        with TestCase.captureOnCommitCallbacks(execute=True):
            position_reduce(group_id=group.pk, reason=ExitReason.REDUCE, quantity=D("1.0"), request_key="signal-7")
        group = cycle("95")  # under every take-profit

    exits = PaperOrder.objects.filter(account=group.exchange_account, side="sell").exclude(
        client_order_id__in=Order.objects.filter(role="take_profit").values("client_order_id")
    )
    assert exits.aggregate(sold=Sum("filled"))["sold"] == D("1.0")
    group.refresh_from_db()
    assert group.total_filled_quantity == D("2.0")
    assert sum(tp.quantity for tp in Order.objects.filter(role="take_profit", status="open")) == D("2.0")
