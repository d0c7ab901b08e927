"""A group on a paper swap account, through the engine's real services: the flags each order reaches the
exchange with (one-way: closes reduce-only; hedge: the group's leg on every order), shorts (legs above the
entry, take-profits below, PnL and fees), leverage and margin mode set before each new group's first entry on a
flat symbol (a setting changed by hand is reset) and never under another group's orders (two new groups with
different settings: the second refused, also when both were routed before either grid was placed), a leverage change
refused while the symbol has open orders, and a spot account's orders unchanged."""

from decimal import Decimal

import pytest

from exchanges.models import ExchangeAccount, PaperLeverage, PaperOrder, PaperPosition
from exchanges.paper.connector import PaperConnector
from exchanges.paper.services import paper_price_set
from tests.factories import DCAConfigurationFactory, ExchangeAccountFactory, UserFactory
from tests.signals import stored_signal
from trading.models import Order, PositionGroup
from trading.selectors import risk_config_of
from trading.services.routing import signal_route
from trading.services.sync import prices_sync, symbol_sync

pytestmark = pytest.mark.django_db
D = Decimal
SOL = "SOL/USDT:USDT"  # shipped paper perpetual: 1 SOL a contract, tick 0.01
THREE_LEGS = [
    {"gap_percent": "0", "weight_percent": "33.34", "tp_percent": "2"},
    {"gap_percent": "-2", "weight_percent": "33.33", "tp_percent": "2"},
    {"gap_percent": "-4", "weight_percent": "33.33", "tp_percent": "2"},
]


@pytest.fixture
def swapper(db):
    """A trader with a paper swap account on binance (fees 0.02 % maker, 0.05 % taker) and a 5x isolated SOL
    configuration: 3000 USD over legs 0, 2 and 4 % away from the entry."""
    user = UserFactory(username="swapper")
    account = ExchangeAccountFactory(
        user=user,
        market_type="swap",
        starting_balance=D("100000"),
        maker_fee_percent=D("0.02"),
        taker_fee_percent=D("0.05"),
        market_slippage_percent=0,
    )
    PaperConnector(account).load_markets()
    paper_price_set(exchange_id="binance", symbol=SOL, price=D("100"))
    DCAConfigurationFactory(
        user=user, pair="SOL/USDT", levels=THREE_LEGS, capital_usd=D("3000"), leverage=5, margin_mode="isolated"
    )
    return user


def account_of(user) -> ExchangeAccount:
    return ExchangeAccount.objects.get(user=user)


def hedge(user) -> None:
    """The account in hedge mode, and room in the pool for a long and a short on one symbol."""
    ExchangeAccount.objects.filter(user=user).update(paper_position_mode="hedge")
    risk = risk_config_of(user)
    risk.max_open_positions_per_symbol = 2
    risk.save(update_fields=["max_open_positions_per_symbol"])


def book(user, **filters) -> list[tuple]:
    """What reached the paper exchange: (side, price, amount, reduce_only, position_side), oldest first."""
    return list(
        PaperOrder.objects.filter(account=account_of(user), **filters)
        .order_by("created_at", "pk")
        .values_list("side", "price", "amount", "reduce_only", "position_side")
    )


def cycle(price: str) -> None:
    paper_price_set(exchange_id="binance", symbol=SOL, price=D(price))
    for account in ExchangeAccount.objects.all():
        symbol_sync(account_id=account.pk, symbol=SOL)
        prices_sync(account_id=account.pk)


def short(route, user, **kwargs):
    return route(user=user, symbol="SOLUSDT.P", side="sell", market_position="short", entry_price="100", **kwargs)


def long(route, user, **kwargs):
    return route(user=user, symbol="SOLUSDT.P", side="buy", entry_price="100", **kwargs)


def exit_side(route, user, side: str):
    return route(
        user=user,
        symbol="SOLUSDT.P",
        intent="exit",
        side=side,
        market_position="flat",
        prev_market_position=side,
        entry_price="100",
    )


@pytest.fixture
def requests_seen(monkeypatch):
    """What reached the paper exchange besides orders: leverage and margin-mode requests, as it received them."""
    seen: list[tuple] = []
    set_leverage, set_margin_mode = PaperConnector.set_leverage, PaperConnector.set_margin_mode

    def leverage(self, symbol, value, **kwargs):
        seen.append(("leverage", symbol, value))
        return set_leverage(self, symbol, value, **kwargs)

    def margin_mode(self, symbol, value, **kwargs):
        seen.append(("margin_mode", symbol, value))
        return set_margin_mode(self, symbol, value, **kwargs)

    monkeypatch.setattr(PaperConnector, "set_leverage", leverage)
    monkeypatch.setattr(PaperConnector, "set_margin_mode", margin_mode)
    return seen


def test_a_short_grid_on_a_one_way_swap_sells_above_the_entry_and_closes_reduce_only(route, eager_celery, swapper):
    paper_price_set(exchange_id="binance", symbol=SOL, price=D("99.5"))
    signal = short(route, swapper)
    assert signal.status == "opened", signal.reason
    group = PositionGroup.objects.get()
    assert (group.side, group.config_snapshot["market_type"], group.config_snapshot["position_mode"]) == (
        "short",
        "swap",
        "one_way",
    )
    assert (group.config_snapshot["leverage"], group.config_snapshot["margin_mode"]) == (5, "isolated")
    # Entries: plain sells at and above the entry (10 SOL ≈ 1000 USD each), nothing reduce-only.
    entries = book(swapper)
    assert [(side, price, reduce_only, leg) for side, price, _, reduce_only, leg in entries] == [
        ("sell", D("100"), False, ""),
        ("sell", D("102"), False, ""),
        ("sell", D("104"), False, ""),
    ]
    assert PaperLeverage.objects.get(account=account_of(swapper), symbol=SOL).leverage == 5

    cycle("100.5")  # leg 0 (sell 100) fills: short 10 SOL
    position = PaperPosition.objects.get(account=account_of(swapper), symbol=SOL)
    assert (position.side, position.contracts, position.leverage) == ("short", D("10"), 5)
    cycle("100.5")  # its take-profit goes out
    take_profit = Order.objects.get(role="take_profit")
    assert (take_profit.side, take_profit.price, take_profit.quantity) == ("buy", D("98.00"), D("10"))
    assert book(swapper, client_order_id=take_profit.client_order_id) == [("buy", D("98"), D("10"), True, "")]

    cycle("97.5")  # the take-profit buys 10 back at 98: +20 USD before fees
    cycle("97.5")
    group.refresh_from_db()
    fees = group.fees_usd
    assert fees > 0  # 0.02 % of 1000 (entry) + 0.02 % of 980 (take-profit)
    assert group.realized_pnl_usd == D("20") - fees
    assert not PaperPosition.objects.filter(account=account_of(swapper), symbol=SOL, contracts__gt=0).exists()

    # The rest of the grid closes on the exit signal: cancelled resting legs, no exit order (nothing held).
    signal = exit_side(route, swapper, "short")
    assert signal.status == "exited", signal.reason
    group.refresh_from_db()
    assert group.status == "closed"
    assert not PaperPosition.objects.filter(account=account_of(swapper), symbol=SOL, contracts__gt=0).exists()


def test_a_short_held_on_a_one_way_swap_is_exited_with_a_reduce_only_buy(route, eager_celery, swapper):
    paper_price_set(exchange_id="binance", symbol=SOL, price=D("99.5"))
    short(route, swapper)
    cycle("102.5")  # legs at 100 and 102 fill: short 10 + 9 SOL
    position = PaperPosition.objects.get(account=account_of(swapper), symbol=SOL)
    assert (position.side, position.contracts) == ("short", D("19"))

    signal = exit_side(route, swapper, "short")
    assert signal.status == "exited", signal.reason
    exit_order = Order.objects.get(role="exit")
    assert book(swapper, client_order_id=exit_order.client_order_id) == [("buy", None, D("19"), True, "")]
    cycle("102.5")
    group = PositionGroup.objects.get()
    assert group.status == "closed"
    assert group.realized_pnl_usd < 0  # bought back above the average short entry, and paid fees
    assert not PaperPosition.objects.filter(account=account_of(swapper), symbol=SOL, contracts__gt=0).exists()


def test_hedge_mode_long_and_short_on_one_symbol_each_closed_without_touching_the_other(route, eager_celery, swapper):
    hedge(swapper)
    paper_price_set(exchange_id="binance", symbol=SOL, price=D("100"))
    assert long(route, swapper).status == "opened"
    assert short(route, swapper).status == "opened"
    long_group = PositionGroup.objects.get(side="long")
    short_group = PositionGroup.objects.get(side="short")
    assert long_group.config_snapshot["position_mode"] == "hedge"
    # Every entry names its own leg; nothing is reduce-only in hedge mode.
    assert {(side, reduce_only, leg) for side, _, _, reduce_only, leg in book(swapper)} == {
        ("buy", False, "long"),
        ("sell", False, "short"),
    }
    cycle("100")  # both first legs (buy 100, sell 100) fill
    legs = dict(
        PaperPosition.objects.filter(account=account_of(swapper), symbol=SOL).values_list("position_side", "contracts")
    )
    assert legs == {"long": D("10"), "short": D("10")}

    signal = exit_side(route, swapper, "long")
    assert signal.status == "exited", signal.reason
    exit_order = Order.objects.get(role="exit", group=long_group)
    assert book(swapper, client_order_id=exit_order.client_order_id) == [("sell", None, D("10"), False, "long")]
    cycle("100")
    legs = dict(
        PaperPosition.objects.filter(account=account_of(swapper), symbol=SOL).values_list("position_side", "contracts")
    )
    assert legs.get("long", D(0)) == 0 and legs["short"] == D("10")
    short_group.refresh_from_db()
    assert short_group.status not in ("closing", "closed")
    assert Order.objects.filter(group=short_group, role="entry", status="open").count() == 2

    signal = exit_side(route, swapper, "short")
    assert signal.status == "exited", signal.reason
    exit_order = Order.objects.get(role="exit", group=short_group)
    assert book(swapper, client_order_id=exit_order.client_order_id) == [("buy", None, D("10"), False, "short")]
    cycle("100")
    assert not PaperPosition.objects.filter(account=account_of(swapper), symbol=SOL, contracts__gt=0).exists()
    assert set(PositionGroup.objects.values_list("status", flat=True)) == {"closed"}


def test_leverage_is_set_for_each_new_group_on_a_flat_symbol_and_not_for_its_pyramids(
    route, eager_celery, swapper, requests_seen
):
    paper_price_set(exchange_id="binance", symbol=SOL, price=D("99.5"))
    short(route, swapper)
    assert sorted(requests_seen) == [("leverage", SOL, 5), ("margin_mode", SOL, "isolated")]
    assert account_of(swapper).derivatives_settings == {SOL: {"leverage": 5, "margin_mode": "isolated"}}
    first_entry = PaperOrder.objects.filter(account=account_of(swapper)).order_by("created_at").first()
    assert first_entry is not None
    settings = PaperLeverage.objects.get(account=account_of(swapper), symbol=SOL)
    assert (settings.leverage, settings.margin_mode) == (5, "isolated")

    requests_seen.clear()
    cycle("100.5")
    assert short(route, swapper).status == "pyramided"  # a pyramid while the position is open: nothing asked
    assert requests_seen == []
    exit_side(route, swapper, "short")
    cycle("100.5")
    # A new group on the flat symbol sends both again, though the engine last set the same: "not modified" is
    # success, and a setting changed by hand meanwhile is put back (next test).
    assert short(route, swapper).status == "opened"
    assert sorted(requests_seen) == [("leverage", SOL, 5), ("margin_mode", SOL, "isolated")]


def test_a_leverage_set_by_hand_on_the_flat_symbol_is_reset_to_the_configurations(route, eager_celery, swapper):
    paper_price_set(exchange_id="binance", symbol=SOL, price=D("99.5"))
    short(route, swapper)
    exit_side(route, swapper, "short")
    cycle("100.5")
    assert not PaperPosition.objects.filter(account=account_of(swapper)).exists()
    # Flat: the trader sets 20x cross on the exchange by hand; the engine's record still says 5x isolated.
    PaperLeverage.objects.filter(account=account_of(swapper), symbol=SOL).update(leverage=20, margin_mode="cross")

    assert short(route, swapper).status == "opened"
    cycle("100.5")  # the first leg (sell 100) fills

    group = PositionGroup.objects.get(status__in=["live", "partially_filled", "active"])
    settings = PaperLeverage.objects.get(account=account_of(swapper), symbol=SOL)
    assert (
        (settings.leverage, settings.margin_mode)
        == (5, "isolated")
        == (
            group.config_snapshot["leverage"],
            group.config_snapshot["margin_mode"],
        )
    )
    position = PaperPosition.objects.get(account=account_of(swapper), symbol=SOL)
    assert (position.side, position.contracts, position.leverage) == ("short", D("10"), 5)


def test_two_new_groups_routed_before_either_grid_is_placed_cannot_trade_two_leverages(
    eager_celery, swapper, django_capture_on_commit_callbacks, monkeypatch
):
    """Two alerts (15m at 5x, 1h at 10x) both routed before the first grid reaches the exchange: the exchange
    cannot tell the engine about the first group yet, the database can. The second is refused; the first group's
    legs never see another leverage."""
    asked: list[tuple] = []  # (leverage requested, the account's open orders on SOL when it was)
    set_leverage = PaperConnector.set_leverage

    def leverage(self, symbol, value, **kwargs):
        asked.append((value, PaperOrder.objects.filter(account=self.account, symbol=symbol, status="open").count()))
        return set_leverage(self, symbol, value, **kwargs)

    monkeypatch.setattr(PaperConnector, "set_leverage", leverage)
    paper_price_set(exchange_id="binance", symbol=SOL, price=D("99.5"))
    risk = risk_config_of(swapper)
    risk.max_open_positions_per_symbol = 2  # two timeframes on one symbol, same side
    risk.save(update_fields=["max_open_positions_per_symbol"])
    DCAConfigurationFactory(user=swapper, pair="SOL/USDT", timeframe=60, levels=THREE_LEGS, leverage=10)
    a = stored_signal(swapper, symbol="SOLUSDT.P", side="sell", market_position="short", entry_price="100")
    b = stored_signal(
        swapper, symbol="SOLUSDT.P", side="sell", market_position="short", entry_price="100", timeframe="60"
    )

    with django_capture_on_commit_callbacks(execute=False) as first:
        signal_route(signal_id=a.pk)  # accepted; its grid goes out after commit (a Celery task)
    with django_capture_on_commit_callbacks(execute=False) as second:
        signal_route(signal_id=b.pk)  # routed meanwhile: nothing of A's is on the exchange yet
    for callback in first + second:
        callback()

    a.refresh_from_db(), b.refresh_from_db()
    assert a.status == "opened", a.reason
    assert b.status == "rejected"
    assert "10x isolated" in b.reason and "5x isolated" in b.reason and "short SOL/USDT:USDT 15m" in b.reason
    assert "Nothing was placed" in b.reason
    assert asked == [(5, 0)]  # only A's leverage, set before any order rested
    group = PositionGroup.objects.get()
    assert (group.timeframe, group.config_snapshot["leverage"]) == (15, 5)
    assert [(side, price) for side, price, *_ in book(swapper)] == [
        ("sell", D("100")),
        ("sell", D("102")),
        ("sell", D("104")),
    ]
    assert PaperLeverage.objects.get(account=account_of(swapper), symbol=SOL).leverage == 5


def test_a_second_group_with_the_same_settings_trades_beside_the_first_and_sends_none(
    route, eager_celery, swapper, requests_seen
):
    paper_price_set(exchange_id="binance", symbol=SOL, price=D("99.5"))
    risk = risk_config_of(swapper)
    risk.max_open_positions_per_symbol = 2
    risk.save(update_fields=["max_open_positions_per_symbol"])
    DCAConfigurationFactory(user=swapper, pair="SOL/USDT", timeframe=60, levels=THREE_LEGS, leverage=5)
    assert short(route, swapper).status == "opened"
    requests_seen.clear()

    signal = short(route, swapper, timeframe="60")

    assert signal.status == "opened", signal.reason
    assert requests_seen == []  # the first group's legs rest at 5x: nothing to set, nothing moved under them
    assert len(book(swapper)) == 6
    assert PaperLeverage.objects.get(account=account_of(swapper), symbol=SOL).leverage == 5


def test_a_leverage_change_is_refused_while_the_symbol_has_open_orders(route, eager_celery, swapper, requests_seen):
    paper_price_set(exchange_id="binance", symbol=SOL, price=D("99.5"))
    short(route, swapper)
    DCAConfigurationFactory(user=swapper, pair="SOL/USDT", timeframe=60, levels=THREE_LEGS, leverage=10)
    resting = book(swapper)
    requests_seen.clear()

    signal = short(route, swapper, timeframe="60")

    assert signal.status == "rejected"
    assert "10x isolated" in signal.reason and "5x isolated" in signal.reason
    assert "cannot change while there are open orders" in signal.reason
    assert "Nothing was placed" in signal.reason
    assert book(swapper) == resting and requests_seen == []
    assert PositionGroup.objects.count() == 1
    assert PaperLeverage.objects.get(account=account_of(swapper), symbol=SOL).leverage == 5


def test_a_spot_account_sends_exactly_what_it_sent_before_swaps(route, eager_celery, trader, monkeypatch):
    sent: list[dict] = []
    create_order = PaperConnector.create_order

    def recording(self, **kwargs):
        sent.append(kwargs)
        return create_order(self, **kwargs)

    monkeypatch.setattr(PaperConnector, "create_order", recording)
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("99"))
    signal = route(symbol="BTCUSDT", entry_price="100")
    assert signal.status == "opened", signal.reason
    assert "market_type" not in PositionGroup.objects.get().config_snapshot
    cycle_spot = PaperConnector(ExchangeAccount.objects.get(user=trader))
    assert cycle_spot.fetch_open_orders("BTC/USDT")
    exit_signal = route(intent="exit", side="buy", market_position="flat", prev_market_position="long")
    assert exit_signal.status == "exited", exit_signal.reason

    assert sent
    assert all(set(kwargs) == {"symbol", "side", "type", "amount", "price", "client_order_id"} for kwargs in sent), sent


def test_the_position_mode_is_read_at_connect_and_daily(swapper):
    from exchanges.services.connection import account_test_connection
    from exchanges.tasks import position_modes_refresh_task

    hedge(swapper)
    assert account_of(swapper).position_mode == ""
    assert account_test_connection(account=account_of(swapper)).ok
    assert account_of(swapper).position_mode == "hedge"

    ExchangeAccount.objects.filter(user=swapper).update(paper_position_mode="one_way")  # switched on the exchange
    position_modes_refresh_task()
    assert account_of(swapper).position_mode == "one_way"


def test_the_daily_position_mode_read_is_scheduled():
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["refresh-position-modes"]
    assert entry["task"] == "exchanges.tasks.position_modes_refresh_task"
    assert entry["schedule"].run_every.total_seconds() == 24 * 3600


def test_a_refusal_for_the_position_side_reads_the_mode_again_and_the_next_group_trades_it(
    route, eager_celery, swapper
):
    account = account_of(swapper)
    ExchangeAccount.objects.filter(pk=account.pk).update(position_mode="one_way")
    hedge(swapper)  # the trader switched to hedge on the exchange since the mode was read

    signal = long(route, swapper)

    group = PositionGroup.objects.get()
    assert group.config_snapshot["position_mode"] == "one_way"
    assert group.status == "failed"
    assert "position side does not match" in group.status_reason
    assert book(swapper) == []  # the exchange refused the first leg; nothing rests
    assert account_of(swapper).position_mode == "hedge"

    signal = long(route, swapper)
    assert signal.status == "opened", signal.reason
    assert {leg for *_, leg in book(swapper)} == {"long"}


def test_one_way_mode_refuses_an_opposite_group_on_the_same_symbol(route, eager_celery, swapper):
    risk = risk_config_of(swapper)
    risk.max_open_positions_per_symbol = 2
    risk.save(update_fields=["max_open_positions_per_symbol"])
    DCAConfigurationFactory(user=swapper, pair="SOL/USDT", timeframe=60, levels=THREE_LEGS, leverage=5)
    assert long(route, swapper).status == "opened"
    resting = book(swapper)

    signal = short(route, swapper, timeframe="60")

    assert signal.status == "rejected"
    assert "one-way mode and holds the long SOL/USDT:USDT 15m position" in signal.reason
    assert book(swapper) == resting and PositionGroup.objects.count() == 1


def test_a_reverse_on_a_one_way_swap_closes_the_long_then_opens_the_short(route, eager_celery, swapper):
    assert long(route, swapper).status == "opened"
    cycle("100")  # the first long leg fills: long 10 SOL

    signal = route(
        user=swapper,
        symbol="SOLUSDT.P",
        intent="reverse",
        side="sell",
        market_position="short",
        prev_market_position="long",
        entry_price="100",
    )

    assert signal.status == "reversed", signal.reason
    cycle("100")
    cycle("100")
    exit_order = Order.objects.get(role="exit")
    assert book(swapper, client_order_id=exit_order.client_order_id) == [("sell", None, D("10"), True, "")]
    assert PositionGroup.objects.get(side="long").status == "closed"
    short_entries = Order.objects.filter(group__side="short", role="entry")
    assert {(o.side, o.status) for o in short_entries} >= {("sell", "filled")}
    position = PaperPosition.objects.get(account=account_of(swapper), symbol=SOL)
    assert (position.side, position.contracts) == ("short", D("10"))
