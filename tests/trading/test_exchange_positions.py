"""Positions from the exchange (issue 18, item 5), on a paper swap account through the engine's real sync:
a position closed by hand or liquidated is noticed within one sync cycle, its group's resting orders leave
the exchange, the group closes with the reason, a journal record and an urgent Telegram message; a fill
racing the positions read closes nothing; hedge legs are judged apart; a spot account is never asked."""

import re
from decimal import Decimal

import pytest

from exchanges.models import ExchangeAccount, PaperOrder, PaperPosition
from exchanges.paper.connector import PaperConnector
from exchanges.paper.services import paper_price_set
from notifications.models import Notification
from tests.factories import DCAConfigurationFactory, ExchangeAccountFactory, UserFactory
from trading.models import JournalEntry, Order, PositionGroup
from trading.selectors import risk_config_of
from trading.services.exchange_positions import positions_sync
from trading.tasks import sync_fills_task

pytestmark = pytest.mark.django_db
D = Decimal
SOL = "SOL/USDT:USDT"  # shipped paper perpetual: 1 SOL a contract, tick 0.01
THREE_LEGS = [
    {"gap_percent": "0", "weight_percent": "33.34", "tp_percent": "2"},
    {"gap_percent": "-2", "weight_percent": "33.33", "tp_percent": "2"},
    {"gap_percent": "-4", "weight_percent": "33.33", "tp_percent": "2"},
]


@pytest.fixture
def swapper(db, fake_telegram):
    """A trader with a paper swap account (no fees, no slippage), a 5x SOL configuration of 3000 USD over legs
    0, 2 and 4 % away from the entry (10 SOL a leg at 100), and Telegram on."""
    user = UserFactory(username="swapper")
    account = ExchangeAccountFactory(
        user=user,
        market_type="swap",
        starting_balance=D("100000"),
        maker_fee_percent=0,
        taker_fee_percent=0,
        market_slippage_percent=0,
    )
    PaperConnector(account).load_markets()
    paper_price_set(exchange_id="binance", symbol=SOL, price=D("100"))
    DCAConfigurationFactory(
        user=user, pair="SOL/USDT", levels=THREE_LEGS, capital_usd=D("3000"), leverage=5, margin_mode="isolated"
    )
    config = user.telegram_config
    config.enabled, config.bot_token, config.channel_id, config.engine_signature = True, "1:T", "@c", ""
    config.save()
    return user


def account_of(user) -> ExchangeAccount:
    return ExchangeAccount.objects.get(user=user)


def two_per_symbol(user) -> None:
    risk = risk_config_of(user)
    risk.max_open_positions_per_symbol = 2
    risk.save(update_fields=["max_open_positions_per_symbol"])


def open_side(route, user, side: str, **kwargs):
    if side == "long":
        return route(user=user, symbol="SOLUSDT.P", side="buy", entry_price="100", **kwargs)
    return route(user=user, symbol="SOLUSDT.P", side="sell", market_position="short", entry_price="100", **kwargs)


def cycle(capture, price: str | None = None) -> None:
    """One beat of the fill sync, as celery-beat runs it (orders, prices, positions), tasks run inline."""
    if price is not None:
        paper_price_set(exchange_id="binance", symbol=SOL, price=D(price))
    with capture(execute=True):
        sync_fills_task()


def a_while_later() -> None:
    """Time passes: the fills the engine recorded are older than a positions answer may lag them."""
    from datetime import timedelta

    from django.db.models import F

    from trading.services.exchange_positions import FRESH_FILL_SECONDS

    Order.objects.update(updated_at=F("updated_at") - timedelta(seconds=FRESH_FILL_SECONDS + 1))


def by_hand(user, side: str, amount: str, **flags):
    """A trader's order placed on the exchange directly, not through the engine."""
    connector = PaperConnector(account_of(user))
    return connector.create_order(
        symbol=SOL,
        side=side,
        type="market",
        amount=D(amount),
        price=None,
        client_order_id=f"by-hand-{PaperOrder.objects.count()}",
        **flags,
    )


def first_sighting_then_next_cycle(capture, monkeypatch) -> None:
    """A shortfall no order in the exchange's history explains: the first cycle only remembers it (nothing is
    cancelled, nothing closes), the next one acts (SHORTFALL_CONFIRM_SECONDS later; 0 here, not to sleep)."""
    from trading.services import exchange_positions

    monkeypatch.setattr(exchange_positions, "SHORTFALL_CONFIRM_SECONDS", 0)
    statuses = {group.pk: group.status for group in PositionGroup.objects.all()}
    cycle(capture)
    assert {group.pk: group.status for group in PositionGroup.objects.all()} == statuses
    cycle(capture)


def book_statuses(group: PositionGroup) -> dict[str, str]:
    """What the paper exchange says of each of the group's orders (role and leg → status)."""
    statuses = {}
    for order in group.orders.exclude(exchange_order_id=""):
        paper = PaperOrder.objects.get(client_order_id=order.client_order_id)
        statuses[f"{order.role}{order.leg_index if order.leg_index is not None else ''}"] = paper.status
    return statuses


def urgent_texts(user) -> list[str]:
    return [re.sub(r"<[^>]+>", "", n.text) for n in Notification.objects.filter(user=user, is_urgent=True)]


def holding(user, **filters) -> D:
    position = PaperPosition.objects.filter(account=account_of(user), symbol=SOL, **filters).first()
    return position.contracts if position else D(0)


def test_a_position_closed_by_hand_is_noticed_in_one_cycle_and_its_resting_orders_leave_the_exchange(
    route, swapper, django_capture_on_commit_callbacks
):
    assert open_side(route, swapper, "long").status == "opened"
    cycle(django_capture_on_commit_callbacks, "100")  # leg 0 fills: long 10 SOL
    cycle(django_capture_on_commit_callbacks)  # its take-profit goes out
    group = PositionGroup.objects.get()
    assert holding(swapper) == D("10")
    assert group.positions_synced_at is not None
    assert group.liquidation_price is not None and group.liquidation_price < D("100")  # as the paper exchange says
    assert book_statuses(group) == {"entry0": "closed", "entry1": "open", "entry2": "open", "take_profit": "open"}

    a_while_later()
    by_hand(swapper, "sell", "10", reduce_only=True)  # the trader closes it on the exchange
    assert holding(swapper) == 0

    cycle(django_capture_on_commit_callbacks, "100")

    group.refresh_from_db()
    assert (group.status, group.exit_reason) == ("closed", "closed_on_exchange")
    # Nothing of the group rests on the exchange: the take-profit would otherwise open a short at 102.
    assert book_statuses(group) == {
        "entry0": "closed",
        "entry1": "canceled",
        "entry2": "canceled",
        "take_profit": "canceled",
    }
    assert holding(swapper) == 0  # and nothing was sent to sell what was not there
    exit_order = Order.objects.get(group=group, role="exit")
    assert (exit_order.status, exit_order.filled_quantity, exit_order.avg_fill_price) == ("filled", D("10"), D("100"))
    assert "from the closing order the exchange reports" in exit_order.error_message and not PaperOrder.objects.filter(
        client_order_id=exit_order.client_order_id
    )
    assert group.realized_pnl_usd == 0  # the trader's own sell filled at 100, where it was bought
    record = JournalEntry.objects.get(group=group, kind="close")
    assert record.exit_reason == "closed_on_exchange"
    assert "the engine expected 10 SOL, the exchange held 0" in record.summary
    assert "3 resting order(s) cancelled" in record.summary
    assert "exit price from the closing order the exchange reports 100" in record.summary
    [message] = urgent_texts(swapper)
    assert "was closed on the exchange, not by the engine" in message
    assert "The engine expected 10 SOL; the exchange holds 0 SOL" in message
    assert "3 resting order(s) cancelled" in message and "from the closing order the exchange reports" in message


def test_a_liquidated_position_closes_as_liquidated_at_its_liquidation_price(
    route, swapper, django_capture_on_commit_callbacks, monkeypatch
):
    open_side(route, swapper, "long")
    cycle(django_capture_on_commit_callbacks, "100")  # long 10 SOL at 100
    group = PositionGroup.objects.get()
    # The exchange's last word on the position (a 99 liquidation price), then the price falls through it and
    # the exchange liquidates: the position disappears (the paper liquidation itself is another slice).
    PositionGroup.objects.filter(pk=group.pk).update(liquidation_price=D("99"))
    a_while_later()
    paper_price_set(exchange_id="binance", symbol=SOL, price=D("98.5"))
    PaperPosition.objects.filter(account=account_of(swapper), symbol=SOL).delete()  # and no order says so

    first_sighting_then_next_cycle(django_capture_on_commit_callbacks, monkeypatch)

    group.refresh_from_db()
    assert (group.status, group.exit_reason) == ("closed", "liquidated")
    assert (
        group.status_reason
        == "closed: Liquidated, exit price estimated at the liquidation price (the exchange closed it)"
    )
    assert group.realized_pnl_usd == D("-10")  # (99 - 100) × 10, no fees on this account
    assert {status for role, status in book_statuses(group).items() if role != "entry0"} == {"canceled"}
    record = JournalEntry.objects.get(group=group, kind="close")
    assert "closed (Liquidated)" in record.summary and "estimated at the liquidation price 99" in record.summary
    [message] = urgent_texts(swapper)
    assert "was liquidated" in message and "liquidation price 99" in message


def test_a_take_profit_filling_between_the_orders_sync_and_the_positions_read_closes_nothing(
    route, swapper, django_capture_on_commit_callbacks, monkeypatch
):
    open_side(route, swapper, "long")
    cycle(django_capture_on_commit_callbacks, "100")
    cycle(django_capture_on_commit_callbacks)  # take-profit at 102 out
    group = PositionGroup.objects.get()
    read = PaperConnector.fetch_positions
    raced = []

    def fill_first(self, symbols=None):
        if not raced:  # after this cycle's orders sync, before its positions read: the take-profit fills
            raced.append(paper_price_set(exchange_id="binance", symbol=SOL, price=D("102.5")))
        return read(self, symbols)

    monkeypatch.setattr(PaperConnector, "fetch_positions", fill_first)
    a_while_later()

    cycle(django_capture_on_commit_callbacks)

    assert raced and holding(swapper) == 0
    group.refresh_from_db()
    assert group.status == "partially_filled" and group.exit_reason == ""
    take_profit = Order.objects.get(group=group, role="take_profit")
    assert (take_profit.status, take_profit.filled_quantity) == ("filled", D("10"))
    assert book_statuses(group)["entry1"] == "open" and book_statuses(group)["entry2"] == "open"
    assert not Order.objects.filter(group=group, role="exit").exists()
    assert urgent_texts(swapper) == []

    cycle(django_capture_on_commit_callbacks)  # and the cycles after it agree with the exchange
    group.refresh_from_db()
    assert group.status == "partially_filled"


def test_hedge_mode_only_the_short_closed_by_hand_closes_its_group(
    route, swapper, django_capture_on_commit_callbacks, monkeypatch
):
    ExchangeAccount.objects.filter(user=swapper).update(paper_position_mode="hedge")
    two_per_symbol(swapper)
    assert open_side(route, swapper, "long").status == "opened"
    assert open_side(route, swapper, "short").status == "opened"
    cycle(django_capture_on_commit_callbacks, "100")  # both first legs fill: long 10, short 10
    cycle(django_capture_on_commit_callbacks)
    long_group, short_group = PositionGroup.objects.get(side="long"), PositionGroup.objects.get(side="short")
    assert (holding(swapper, position_side="long"), holding(swapper, position_side="short")) == (D("10"), D("10"))

    a_while_later()
    by_hand(swapper, "buy", "10", position_side="short")  # the short leg closed on the exchange
    # A hedge-mode order does not say which leg it closed: the shortfall is believed a cycle later.
    first_sighting_then_next_cycle(django_capture_on_commit_callbacks, monkeypatch)

    short_group.refresh_from_db()
    long_group.refresh_from_db()
    assert (short_group.status, short_group.exit_reason) == ("closed", "closed_on_exchange")
    assert {status for role, status in book_statuses(short_group).items() if role != "entry0"} == {"canceled"}
    assert long_group.status == "partially_filled"
    assert book_statuses(long_group) == {"entry0": "closed", "entry1": "open", "entry2": "open", "take_profit": "open"}
    assert holding(swapper, position_side="long") == D("10")
    assert len(urgent_texts(swapper)) == 1


def test_one_way_two_groups_on_a_smaller_position_close_the_newest_and_say_the_rest_is_unmanaged(
    route, swapper, django_capture_on_commit_callbacks
):
    two_per_symbol(swapper)
    DCAConfigurationFactory(
        user=swapper, pair="SOL/USDT", timeframe=60, levels=THREE_LEGS, capital_usd=D("3000"), leverage=5
    )
    open_side(route, swapper, "long")
    open_side(route, swapper, "long", timeframe="60")
    cycle(django_capture_on_commit_callbacks, "100")  # each first leg fills: one position of 20 SOL
    cycle(django_capture_on_commit_callbacks)
    older, newer = PositionGroup.objects.order_by("created_at")
    assert holding(swapper) == D("20")

    a_while_later()
    by_hand(swapper, "sell", "5", reduce_only=True)  # 15 left: the newer group's 10 no longer fit

    cycle(django_capture_on_commit_callbacks)

    older.refresh_from_db()
    newer.refresh_from_db()
    assert (newer.status, newer.exit_reason) == ("closed", "closed_on_exchange")
    assert older.status == "partially_filled"
    [message] = urgent_texts(swapper)
    assert "the exchange holds 15 SOL" in message
    assert "The 5 SOL left on the exchange are no longer managed by the engine" in message


def test_a_position_larger_than_expected_is_left_alone(route, swapper, django_capture_on_commit_callbacks):
    open_side(route, swapper, "long")
    cycle(django_capture_on_commit_callbacks, "100")
    by_hand(swapper, "buy", "3")  # the trader adds by hand: 13 SOL held, 10 expected

    cycle(django_capture_on_commit_callbacks)

    assert PositionGroup.objects.get().status == "partially_filled"
    assert urgent_texts(swapper) == []


def test_a_group_with_an_unconfirmed_order_is_not_judged_this_cycle(route, swapper, django_capture_on_commit_callbacks):
    open_side(route, swapper, "long")
    cycle(django_capture_on_commit_callbacks, "100")
    cycle(django_capture_on_commit_callbacks)
    group = PositionGroup.objects.get()
    # The take-profit's placement answer was lost: the engine does not know yet whether it is on the exchange.
    Order.objects.filter(group=group, role="take_profit").update(status="unknown")
    by_hand(swapper, "sell", "10", reduce_only=True)

    with django_capture_on_commit_callbacks(execute=True):
        assert positions_sync(account_id=account_of(swapper).pk) == 0

    group.refresh_from_db()
    assert group.status == "partially_filled"


def test_a_spot_account_is_never_asked_for_positions(route, trader, django_capture_on_commit_callbacks, monkeypatch):
    asked = []
    monkeypatch.setattr(PaperConnector, "fetch_positions", lambda self, symbols=None: asked.append(symbols) or [])
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("99"))
    assert route(symbol="BTCUSDT", entry_price="100").status == "opened"
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("99.5"))

    with django_capture_on_commit_callbacks(execute=True):
        sync_fills_task()
    assert positions_sync(account_id=ExchangeAccount.objects.get(user=trader).pk) == 0

    assert asked == []


def test_the_position_page_and_api_show_the_liquidation_price_and_margin_ratio(
    route, swapper, client, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    open_side(route, swapper, "long")
    cycle(django_capture_on_commit_callbacks, "100")
    group = PositionGroup.objects.get()
    PositionGroup.objects.filter(pk=group.pk).update(liquidation_price=D("80.4"), margin_ratio=D("0.0251"))
    client.force_login(swapper)

    page = client.get(reverse("position-detail", args=[group.pk])).content.decode()
    api = client.get(f"/api/v1/positions/{group.pk}/").json()

    assert re.search(r"Liquidation price</div><div class=\"value liquidation-price\">80\.40?<", page)
    assert re.search(r"Margin ratio</div><div class=\"value margin-ratio\">2\.51%<", page)
    assert (api["liquidation_price"], api["margin_ratio"]) == ("80.400000000000", "0.025100000000")
    assert api["positions_synced_at"] is not None


def test_a_cancel_without_answer_leaves_the_group_closing_and_the_resent_close_finishes_it(
    route, swapper, django_capture_on_commit_callbacks, monkeypatch
):
    from exchanges.connector import RetryableError
    from trading.services.closing import position_close

    open_side(route, swapper, "long")
    cycle(django_capture_on_commit_callbacks, "100")
    cycle(django_capture_on_commit_callbacks)
    group = PositionGroup.objects.get()
    a_while_later()
    by_hand(swapper, "sell", "10", reduce_only=True)
    cancel = PaperConnector.cancel_order

    def timing_out(self, **kwargs):
        raise RetryableError("timed out")

    monkeypatch.setattr(PaperConnector, "cancel_order", timing_out)
    cycle(django_capture_on_commit_callbacks)  # the task logs the failure; the next cycle must not sell anything
    group.refresh_from_db()
    assert (group.status, group.exit_reason) == ("closing", "closed_on_exchange")
    cycle(django_capture_on_commit_callbacks)
    assert PositionGroup.objects.get().status == "closing"

    monkeypatch.setattr(PaperConnector, "cancel_order", cancel)
    with django_capture_on_commit_callbacks(execute=True):  # recovery re-sends the stalled close with its reason
        position_close(group_id=group.pk, reason="closed_on_exchange")

    group.refresh_from_db()
    assert (group.status, group.exit_reason) == ("closed", "closed_on_exchange")
    assert {status for role, status in book_statuses(group).items() if role != "entry0"} == {"canceled"}
    assert holding(swapper) == 0 and holding(swapper, side="short") == 0  # nothing sold: no short opened
    [message] = urgent_texts(swapper)
    assert "The engine expected 10 SOL; the exchange holds an unknown amount" in message


def test_a_positions_answer_lagging_a_fresh_entry_fill_closes_nothing(
    route, swapper, django_capture_on_commit_callbacks, monkeypatch
):
    open_side(route, swapper, "long")
    read = PaperConnector.fetch_positions
    monkeypatch.setattr(PaperConnector, "fetch_positions", lambda self, symbols=None: [])  # not there yet
    cycle(django_capture_on_commit_callbacks, "100")  # leg 0 fills; the positions answer does not show it yet

    group = PositionGroup.objects.get()
    assert (group.status, group.total_filled_quantity) == ("partially_filled", D("10"))
    assert urgent_texts(swapper) == []

    monkeypatch.setattr(PaperConnector, "fetch_positions", read)
    a_while_later()
    cycle(django_capture_on_commit_callbacks)  # the answer caught up: 10 held, 10 expected
    assert PositionGroup.objects.get().status == "partially_filled"


def test_an_entry_leg_that_fills_before_its_cancel_is_reported_as_left_unmanaged(
    route, swapper, django_capture_on_commit_callbacks, monkeypatch
):
    open_side(route, swapper, "long")
    cycle(django_capture_on_commit_callbacks, "100")  # long 10 SOL; legs at 98 and 96 rest
    group = PositionGroup.objects.get()
    PositionGroup.objects.filter(pk=group.pk).update(liquidation_price=D("99"))
    a_while_later()
    paper_price_set(exchange_id="binance", symbol=SOL, price=D("98.5"))
    PaperPosition.objects.filter(account=account_of(swapper), symbol=SOL).delete()  # liquidated
    from trading.services import exchange_positions

    monkeypatch.setattr(exchange_positions, "SHORTFALL_CONFIRM_SECONDS", 0)
    cycle(django_capture_on_commit_callbacks)  # first sighting: remembered, nothing cancelled
    cancel = PaperConnector.cancel_order
    moved = []

    def price_falls_first(self, **kwargs):
        if not moved:  # the price falls through the leg at 98 just before the engine's first cancel arrives
            moved.append(paper_price_set(exchange_id="binance", symbol=SOL, price=D("97.5")))
        return cancel(self, **kwargs)

    monkeypatch.setattr(PaperConnector, "cancel_order", price_falls_first)

    cycle(django_capture_on_commit_callbacks)

    group.refresh_from_db()
    assert (group.status, group.exit_reason) == ("closed", "liquidated")
    fresh = holding(swapper)
    assert fresh > 0  # the leg at 98 opened a new long the engine no longer manages
    assert book_statuses(group)["entry1"] == "closed" and book_statuses(group)["entry2"] == "canceled"
    [message] = urgent_texts(swapper)
    assert f"The {fresh.normalize():f} SOL left on the exchange are no longer managed by the engine" in message


def test_a_paper_liquidation_closes_the_group_as_liquidated_and_leaves_no_order_on_the_exchange(
    route, swapper, django_capture_on_commit_callbacks
):
    # The whole chain on the paper exchange, nothing simulated: a 5x long of 10 SOL at 100, its two deeper legs
    # resting at 98 and 96; the price falls to 70 in one step, through both legs and then through the position's
    # liquidation price, and the paper exchange liquidates it (cancelling its orders on the symbol).
    open_side(route, swapper, "long")
    cycle(django_capture_on_commit_callbacks, "100")  # leg 0 fills: long 10 SOL at 100
    cycle(django_capture_on_commit_callbacks)  # its take-profit goes out; the positions read stores the liquidation
    group = PositionGroup.objects.get()
    assert D("80") < group.liquidation_price < D("81")  # (1000 - 200) / (10 × 0.996) = 80.32
    a_while_later()

    paper_price_set(exchange_id="binance", symbol=SOL, price=D("70"))
    assert holding(swapper) == 0
    [liquidation] = PaperOrder.objects.filter(client_order_id__startswith="autoclose-")
    assert (liquidation.side, liquidation.filled) == ("sell", D("30"))  # legs 1 and 2 filled on the way down
    lost = PaperConnector(account_of(swapper)).balance().total("USDT") - D("100000")
    assert lost == D("-588")  # the isolated margin of 30 SOL at 98 and 5x, no more: no fees on this account

    cycle(django_capture_on_commit_callbacks)  # one cycle: the exchange's history shows its autoclose order

    group.refresh_from_db()
    assert (group.status, group.exit_reason) == ("closed", "liquidated")
    # Booked at the exchange's own liquidation order: its price and its clearance fee, so the engine's PnL is
    # what the account lost, to the unit, not an estimate.
    exit_order = Order.objects.get(group=group, role="exit")
    assert exit_order.avg_fill_price == liquidation.average
    assert group.realized_pnl_usd == lost
    # Legs filled after the exchange's last liquidation price (80.32 for 10 SOL): the engine's estimate is redone
    # for the 30 SOL at 98 the group held, (2940 - 588) / (30 × 0.996) = 78.7148…; the paper exchange liquidated
    # there (the same tier table), on the tick above it.
    assert liquidation.average == D("78.72") and D("78.71") < group.liquidation_price < D("78.72")
    on_book = PaperOrder.objects.filter(account=account_of(swapper), status="open")
    assert not on_book.exists()  # nothing left that could open a fresh position when the price comes back
    assert holding(swapper) == 0
    [message] = urgent_texts(swapper)
    assert "was liquidated" in message


def test_a_positions_answer_leaving_the_position_out_twice_in_one_cycle_closes_nothing(
    route, swapper, django_capture_on_commit_callbacks, monkeypatch
):
    # An exchange's positions endpoint answering "no positions" for a moment (a stale replica, a maintenance
    # answer), both reads of one cycle: no order in its history explains it, so nothing is cancelled; the next
    # cycle's answer is whole again and the sighting is forgotten.
    open_side(route, swapper, "long")
    cycle(django_capture_on_commit_callbacks, "100")  # long 10 SOL
    cycle(django_capture_on_commit_callbacks)  # its take-profit goes out
    a_while_later()
    group = PositionGroup.objects.get()
    resting = book_statuses(group)
    read = PaperConnector.fetch_positions
    glitch = {"left": 2}

    def flaky(self, symbols=None):
        if glitch["left"]:
            glitch["left"] -= 1
            return []
        return read(self, symbols)

    monkeypatch.setattr(PaperConnector, "fetch_positions", flaky)
    cycle(django_capture_on_commit_callbacks)
    cycle(django_capture_on_commit_callbacks)

    group.refresh_from_db()
    assert group.status == "partially_filled" and group.exit_reason == ""
    assert (
        book_statuses(group)
        == resting
        == {
            "entry0": "closed",
            "entry1": "open",
            "entry2": "open",
            "take_profit": "open",
        }
    )
    assert holding(swapper) == D("10") and not urgent_texts(swapper)

    # The whole answer forgot the sighting: one more glitch, even with no wait required, is a first sighting.
    from trading.services import exchange_positions

    monkeypatch.setattr(exchange_positions, "SHORTFALL_CONFIRM_SECONDS", 0)
    glitch["left"] = 2
    cycle(django_capture_on_commit_callbacks)
    group.refresh_from_db()
    assert group.status == "partially_filled" and book_statuses(group) == resting
