"""Funding payments in the realised PnL of swap positions, through the engine's funding service and ccxt's own
binanceusdm and bybit classes answering from ccxt's recorded funding answers on 127.0.0.1
(tests/exchanges/recorded/README.md): what is recorded (once), to which position, with what sign, and what
it does to each position's realised PnL and close record."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest

from exchanges.connector import FundingPayment as ExchangePayment
from tests.exchanges.test_ccxt_connector import (  # noqa: F401 - fixtures (loopback_only is autouse)
    Reply,
    account_key,
    bybit,
    exchange,
    loopback_only,
    recorded,
)
from tests.exchanges.test_ccxt_swaps import binance_swap, bybit_swap, fresh_markets  # noqa: F401 - fixtures
from tests.factories import ExchangeAccountFactory, OrderFactory, PositionGroupFactory, UserFactory
from trading import journal
from trading.models import FundingPayment, JournalEntry, Order, PositionGroup
from trading.services.fills import group_refresh_stats
from trading.services.funding import (
    FILL_NOTICE_GRACE,
    FUNDING_FETCH_WINDOW,
    FUNDING_WINDOW_OVERLAP,
    funding_sync,
    funding_targets,
)
from trading.tasks import sync_funding_symbol_task

pytestmark = pytest.mark.django_db
D = Decimal
BTC = "BTC/USDT:USDT"
LTC = "LTC/USDT:USDT"
BINANCE_PAID_AT = datetime(2024, 2, 9, 8, tzinfo=UTC)  # the recorded income: -0.04618913 USDT on BTCUSDT
BYBIT_PAID_AT = datetime(2023, 11, 14, 8, tzinfo=UTC)  # the recorded execution: the LTC long paid 0.00867 USDT
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WINDOW, OVERLAP = FUNDING_FETCH_WINDOW, FUNDING_WINDOW_OVERLAP


@pytest.fixture(autouse=True)
def closed_groups_stay_relevant(settings):
    """The recorded payments are from 2023-2024: a group closed then still collects its funding."""
    settings.FUNDING_CLOSED_LOOKBACK_HOURS = 24 * 365 * 10


@pytest.fixture
def swap_account(db):
    return ExchangeAccountFactory(user=UserFactory(username="funded"), market_type="swap")


def position(account, *, symbol=BTC, side="short", timeframe=15, opened, quantity, price, fee="0", closed=None):
    """A swap group opened at ``opened`` whose entry filled ``quantity`` at ``price`` then; with ``closed``,
    bought/sold back at that (time, price, fee) and closed."""
    group = PositionGroupFactory(
        user=account.user,
        exchange_account=account,
        symbol=symbol,
        side=side,
        timeframe=timeframe,
        config_snapshot={"levels": [], "market_type": "swap"},
        status="active",
    )
    entry_side, exit_side = ("sell", "buy") if side == "short" else ("buy", "sell")
    OrderFactory(
        group=group,
        symbol=symbol,
        side=entry_side,
        quantity=D(quantity),
        price=D(price),
        status="filled",
        filled_quantity=D(quantity),
        avg_fill_price=D(price),
        fee=D(fee),
        fee_currency="USDT",
        first_filled_at=opened,
        filled_at=opened,
    )
    if closed:
        at, exit_price, exit_fee = closed
        OrderFactory(
            group=group,
            pyramid=group.pyramids.get(),
            role=Order.Role.EXIT,
            leg_index=None,
            symbol=symbol,
            side=exit_side,
            order_type="market",
            quantity=D(quantity),
            price=None,
            status="filled",
            filled_quantity=D(quantity),
            avg_fill_price=D(exit_price),
            fee=D(exit_fee),
            fee_currency="USDT",
            first_filled_at=at,
            filled_at=at,
        )
    PositionGroup.objects.filter(pk=group.pk).update(created_at=opened)
    group = group_refresh_stats(group_id=group.pk)
    if closed:
        PositionGroup.objects.filter(pk=group.pk).update(status="closed", closed_at=closed[0])
        group.refresh_from_db()
        journal.trade_closed(
            group, reason="take_profit", quantity_closed=D(quantity), exit_value=D(quantity) * D(exit_price)
        )
    return group


def income(*records) -> Reply:
    return Reply(list(records))


RECORDED_INCOME = recorded("binanceusdm_income_funding.json")[0]


def test_a_closed_short_realises_fees_and_the_funding_it_paid(swap_account, binance_swap, exchange):
    # Sold 0.01 BTC at 47 000 (fee 0.235), bought back at 46 000 (fee 0.23); the 08:00 funding fell in between.
    short = position(
        swap_account,
        opened=BINANCE_PAID_AT - 7 * HOUR,
        quantity="0.01",
        price="47000",
        fee="0.235",
        closed=(BINANCE_PAID_AT + 2 * HOUR, "46000", "0.23"),
    )
    assert short.realized_pnl_usd == D("9.535")  # the move less both fees, before the funding is known
    exchange.route("GET", "/fapi/v1/income", Reply(recorded("binanceusdm_income_funding.json")))

    assert funding_sync(account_id=swap_account.pk, symbol=BTC, connector=binance_swap) == 1

    short.refresh_from_db()
    assert short.funding_pnl_usd == D("-0.04618913")  # paid
    assert short.realized_pnl_usd == D("10") - D("0.465") - D("0.04618913")  # 9.48881087
    assert short.fees_usd == D("0.465")
    # Its close record follows the final figure (what the trade history and the breaker read).
    close = JournalEntry.objects.get(group=short, kind=JournalEntry.Kind.CLOSE)
    assert close.realized_pnl_usd == D("9.48881087")
    [sent] = exchange.sent("GET", "/fapi/v1/income")
    assert (sent.params["symbol"], sent.params["incomeType"]) == ("BTCUSDT", "FUNDING_FEE")
    assert int(sent.params["startTime"]) == int((BINANCE_PAID_AT - 7 * HOUR).timestamp() * 1000)  # since it opened


def test_a_payment_seen_twice_is_recorded_once(swap_account, binance_swap, exchange):
    short = position(swap_account, opened=BINANCE_PAID_AT - HOUR, quantity="0.01", price="47000")
    # The exchange lists the same payment twice, and the next run's fetch overlaps the first.
    exchange.route("GET", "/fapi/v1/income", income(RECORDED_INCOME, RECORDED_INCOME))

    assert funding_sync(account_id=swap_account.pk, symbol=BTC, connector=binance_swap) == 1
    with mock.patch("django.utils.timezone.now", lambda: BINANCE_PAID_AT + 8 * HOUR):  # the next run, that day
        assert funding_sync(account_id=swap_account.pk, symbol=BTC, connector=binance_swap) == 0

    [row] = FundingPayment.objects.all()
    assert (row.group_id, row.amount, row.exchange_payment_id, row.paid_at) == (
        short.pk,
        D("-0.04618913"),
        "8082457372019390060",
        BINANCE_PAID_AT,
    )
    short.refresh_from_db()
    assert (short.funding_pnl_usd, short.realized_pnl_usd) == (D("-0.04618913"), D("-0.04618913"))
    first, second = exchange.sent("GET", "/fapi/v1/income")
    assert int(second.params["startTime"]) == int(BINANCE_PAID_AT.timestamp() * 1000)  # from the last one recorded


def test_two_groups_on_one_symbol_share_a_payment_exactly_by_quantity(swap_account, binance_swap, exchange):
    older = position(swap_account, opened=BINANCE_PAID_AT - 5 * HOUR, quantity="0.01", price="47000", timeframe=15)
    newer = position(swap_account, opened=BINANCE_PAID_AT - 2 * HOUR, quantity="0.02", price="47100", timeframe=60)
    later = position(swap_account, opened=BINANCE_PAID_AT + HOUR, quantity="0.05", price="47200", timeframe=240)
    gone = position(
        swap_account,
        opened=BINANCE_PAID_AT - 9 * HOUR,
        quantity="0.03",
        price="47300",
        timeframe=5,
        closed=(BINANCE_PAID_AT - 3 * HOUR, "47000", "0"),
    )
    exchange.route("GET", "/fapi/v1/income", Reply(recorded("binanceusdm_income_funding.json")))

    funding_sync(account_id=swap_account.pk, symbol=BTC, connector=binance_swap)

    shares = {row.group_id: row.amount for row in FundingPayment.objects.all()}
    assert shares == {older.pk: D("-0.015396376667"), newer.pk: D("-0.030792753333")}  # 1 : 2, remainder to the oldest
    assert sum(shares.values()) == D("-0.04618913")
    for group, funding in ((older, "-0.015396376667"), (newer, "-0.030792753333"), (later, "0"), (gone, "0")):
        group.refresh_from_db()
        assert group.funding_pnl_usd == D(funding)


def test_a_payment_before_the_position_was_held_is_not_recorded(swap_account, binance_swap, exchange):
    # The group was opened before the payment, but its first leg filled only after it: not its funding (a
    # trader's own position on the symbol, say).
    group = position(swap_account, opened=BINANCE_PAID_AT - HOUR, quantity="0.01", price="47000")
    Order.objects.filter(group=group).update(first_filled_at=BINANCE_PAID_AT + HOUR, filled_at=BINANCE_PAID_AT + HOUR)
    exchange.route("GET", "/fapi/v1/income", Reply(recorded("binanceusdm_income_funding.json")))

    assert funding_sync(account_id=swap_account.pk, symbol=BTC, connector=binance_swap) == 0

    assert not FundingPayment.objects.exists()
    group.refresh_from_db()
    assert (group.funding_pnl_usd, group.realized_pnl_usd) == (0, 0)
    # The next run starts after the payment it saw, recorded or not: an exchange's page never stays stuck on it.
    # Run long after (the recorded payment is from 2024): nothing newer than it, so the next windows are asked,
    # ten in one run at most.
    funding_sync(account_id=swap_account.pk, symbol=BTC, connector=binance_swap)
    first, *second_run = exchange.sent("GET", "/fapi/v1/income")
    starts = [datetime.fromtimestamp(int(sent.params["startTime"]) / 1000, UTC) for sent in second_run]
    assert starts == [BINANCE_PAID_AT + k * (WINDOW - OVERLAP) for k in range(10)]


def test_hedge_mode_bybit_payment_goes_to_the_side_that_paid_it(swap_account, bybit_swap, exchange):
    # A long and a short on LTC at once (hedge mode); Bybit's recorded execution is the long's (side Buy).
    ExchangeAccountFactory._meta.model.objects.filter(pk=swap_account.pk).update(exchange_id="bybit")
    long = position(swap_account, symbol=LTC, side="long", opened=BYBIT_PAID_AT - HOUR, quantity="1.2", price="64.6")
    short = position(swap_account, symbol=LTC, side="short", opened=BYBIT_PAID_AT - HOUR, quantity="3", price="70")
    exchange.route("GET", "/v5/execution/list", Reply(recorded("bybit_execution_funding.json")))

    funding_sync(account_id=swap_account.pk, symbol=LTC, connector=bybit_swap)

    long.refresh_from_db()
    short.refresh_from_db()
    assert (long.funding_pnl_usd, long.realized_pnl_usd) == (D("-0.00867"), D("-0.00867"))  # the long paid
    assert short.funding_pnl_usd == 0


def test_a_spot_account_is_never_asked_for_funding(binance_swap, exchange):
    spot = ExchangeAccountFactory(user=UserFactory(username="spotty"), market_type="spot")
    position(spot, symbol="BTC/USDT", side="long", opened=BINANCE_PAID_AT - HOUR, quantity="0.01", price="47000")

    assert funding_targets() == []
    assert funding_sync(account_id=spot.pk, symbol="BTC/USDT", connector=binance_swap) == 0
    assert exchange.requests == []  # not even the markets


def test_a_failed_fetch_is_logged_and_the_next_run_records_it(
    swap_account, binance_swap, exchange, monkeypatch, caplog
):
    short = position(swap_account, opened=BINANCE_PAID_AT - HOUR, quantity="0.01", price="47000")
    monkeypatch.setattr("trading.services.funding.connector_for_account", lambda account: binance_swap)
    assert funding_targets() == [(swap_account.pk, BTC)]
    exchange.route("GET", "/fapi/v1/income", Reply({"code": -1001, "msg": "Internal error"}, status=503))

    sync_funding_symbol_task(swap_account.pk, BTC)  # does not raise: the sync goes on

    assert not FundingPayment.objects.exists()
    assert "funding of BTC/USDT:USDT" in caplog.text
    exchange.route("GET", "/fapi/v1/income", Reply(recorded("binanceusdm_income_funding.json")))
    sync_funding_symbol_task(swap_account.pk, BTC)
    short.refresh_from_db()
    assert short.funding_pnl_usd == D("-0.04618913")


def test_a_swap_group_closing_fetches_its_funding_so_its_final_pnl_includes_it(
    swap_account, binance_swap, exchange, monkeypatch, eager_celery, django_capture_on_commit_callbacks
):
    from trading.services.closing import position_finish

    short = position(swap_account, opened=BINANCE_PAID_AT - HOUR, quantity="0.01", price="47000", fee="0.235")
    OrderFactory(
        group=short,
        pyramid=short.pyramids.get(),
        role=Order.Role.EXIT,
        leg_index=None,
        symbol=BTC,
        side="buy",
        order_type="market",
        quantity=D("0.01"),
        price=None,
        status="filled",
        filled_quantity=D("0.01"),
        avg_fill_price=D("46000"),
        fee=D("0.23"),
        fee_currency="USDT",
        first_filled_at=BINANCE_PAID_AT + HOUR,
        filled_at=BINANCE_PAID_AT + HOUR,
    )
    group_refresh_stats(group_id=short.pk)
    monkeypatch.setattr("trading.services.funding.connector_for_account", lambda account: binance_swap)
    exchange.route("GET", "/fapi/v1/income", Reply(recorded("binanceusdm_income_funding.json")))

    with django_capture_on_commit_callbacks(execute=True):
        position_finish(short, "take_profit")

    short.refresh_from_db()
    assert short.status == "closed"
    assert (short.funding_pnl_usd, short.realized_pnl_usd) == (D("-0.04618913"), D("9.48881087"))
    close = JournalEntry.objects.get(group=short, kind=JournalEntry.Kind.CLOSE)
    assert close.realized_pnl_usd == D("9.48881087")


def test_a_short_grid_on_the_paper_exchange_books_its_funding_and_its_pnl_is_what_the_balance_gained(
    route, perpetuals, django_capture_on_commit_callbacks, settings
):
    # The whole chain on the paper perpetual, time frozen by hand: a short grid opened at 07:00 UTC with fees of
    # 0.1 %, legs filled above the entry, the 08:00 funding instant passes (a positive rate: the short receives),
    # the take-profits buy it back below. The engine's realised PnL is the legs' and take-profits' prices, both
    # sides' fees and the funding, to the last unit, and what the exchange's USDT balance gained.
    from exchanges.models import PaperFunding, PaperOrder
    from exchanges.paper.connector import PaperConnector
    from exchanges.paper.services import paper_price_set
    from tests.exchanges.test_paper_funding import Clock
    from trading.tasks import sync_fills_task

    settings.PAPER_FUNDING_RATE = D("0.0005")
    perpetuals.maker_fee_percent = perpetuals.taker_fee_percent = D("0.1")
    perpetuals.save(update_fields=["maker_fee_percent", "taker_fee_percent"])
    clock = Clock(datetime(2026, 3, 1, 7, 0, tzinfo=UTC))

    def cycle(price: str | None = None) -> None:
        if price is not None:
            paper_price_set(exchange_id="binance", symbol=BTC, price=D(price))
        with django_capture_on_commit_callbacks(execute=True):
            sync_fills_task()

    with mock.patch("django.utils.timezone.now", clock):
        start = PaperConnector(perpetuals).balance().total("USDT")
        signal = route(side="sell", market_position="short", entry_price="100")
        assert signal.status == "opened", signal.reason
        cycle("102")  # every leg sold, 100 to 102: short 9.9 BTC
        cycle()
        group = PositionGroup.objects.get()
        assert group.total_filled_quantity == D("9.9")

        clock.set(2026, 3, 1, 8, 30)  # the 08:00 instant has passed
        cycle("97")  # every take-profit (below the entry) buys back
        cycle()

    group.refresh_from_db()
    assert group.status == "closed", group.status_reason
    take_profits = PaperOrder.objects.filter(account=perpetuals, side="buy")
    assert take_profits.exists() and all(order.reduce_only for order in take_profits)
    [received] = PaperFunding.objects.filter(account=perpetuals)
    assert received.amount > 0  # positive rate: shorts receive
    [booked] = FundingPayment.objects.filter(group=group)
    assert booked.amount == received.amount
    assert group.funding_pnl_usd == received.amount
    with mock.patch("django.utils.timezone.now", clock):
        gained = PaperConnector(perpetuals).balance().total("USDT") - start
    # The exact figure: sold 999.85 of BTC, bought it back for 979.26, fees 1.97911, funding received.
    assert group.realized_pnl_usd == D("999.85") - D("979.26") - group.fees_usd + received.amount
    # The paper position keeps its average entry to 12 places, as exchanges keep theirs rounded, so the balance
    # it settles drifts from the exact figure in the 11th place (here by 0.000000000016).
    assert abs(group.realized_pnl_usd - gained) < D("1e-10") and gained > 0
    assert group.fees_usd == D("1.97911")  # 0.1 % of both sides


# --- An exchange answering a window from the start; fills timed when the engine noticed them ------------------


class BybitLike:
    """fetch_funding_history as Bybit answers with a startTime only: the seven days from it (ccxt sends no
    endTime). ``asked`` is every start the engine sent."""

    def __init__(self, payments):
        self.payments = payments
        self.asked = []

    def fetch_funding_history(self, symbol, since=None):
        self.asked.append(since)
        return [p for p in self.payments if since <= p.timestamp <= since + 7 * DAY]


def pay(at, amount="-0.5", side="short"):
    return ExchangePayment(
        id=f"p{int(at.timestamp())}{side}", symbol=BTC, amount=D(amount), currency="USDT", timestamp=at,
        position_side=side,
    )  # fmt: skip


def noticed(group, at):
    """The group's entry was noticed filled at ``at`` (the engine's time, not the exchange's)."""
    Order.objects.filter(group=group).update(first_filled_at=at, filled_at=at)


def recorded_payments():
    return sorted(FundingPayment.objects.values_list("paid_at", "group_id", "amount"))


def test_a_grid_that_rested_a_week_before_filling_gets_all_its_funding(swap_account):
    # Review i18 finding 5: every run asked from the opening, Bybit answered that empty week, nothing ever moved.
    opened = datetime(2026, 1, 1, 1, tzinfo=UTC)
    group = position(swap_account, opened=opened, quantity="0.01", price="47000")
    noticed(group, opened + 9 * DAY)  # the grid's first leg filled nine days after the opening
    instants = [datetime(2026, 1, 10, 16, tzinfo=UTC) + i * 8 * HOUR for i in range(6)]
    exchange = BybitLike([pay(at) for at in instants])

    with mock.patch("django.utils.timezone.now", lambda: instants[-1] + HOUR):
        for _ in range(3):  # three beat runs
            funding_sync(account_id=swap_account.pk, symbol=BTC, connector=exchange)

    assert recorded_payments() == [(at, group.pk, D("-0.5")) for at in instants]
    group.refresh_from_db()
    assert group.funding_pnl_usd == D("-3")
    # The empty week, then the next window (one hour of overlap); then from the last payment seen.
    assert exchange.asked[:2] == [opened, opened + WINDOW - OVERLAP]
    assert exchange.asked[2:] == [instants[-1], instants[-1]]


def test_a_symbol_that_paid_nothing_for_months_is_caught_up_ten_windows_a_run(swap_account):
    opened = datetime(2026, 1, 1, 1, tzinfo=UTC)
    position(swap_account, opened=opened, quantity="0.01", price="47000")
    exchange = BybitLike([])
    now = opened + 100 * DAY
    step = WINDOW - OVERLAP

    with mock.patch("django.utils.timezone.now", lambda: now):
        funding_sync(account_id=swap_account.pk, symbol=BTC, connector=exchange)
        assert exchange.asked == [opened + k * step for k in range(10)]
        funding_sync(account_id=swap_account.pk, symbol=BTC, connector=exchange)
        funding_sync(account_id=swap_account.pk, symbol=BTC, connector=exchange)

    # The second run went on from the eleventh window and stopped at the one that reaches now (day 100); the
    # third asks that one again: it may still get payments.
    assert exchange.asked[10:] == [opened + k * step for k in range(10, 15)] + [opened + 14 * step]
    assert opened + 14 * step + WINDOW >= now > opened + 13 * step + WINDOW
    assert not FundingPayment.objects.exists()


def test_an_entry_noticed_seconds_after_the_funding_instant_gets_that_payment(swap_account):
    # Review i18 finding 6: filled on the exchange at 07:59:58, the fill sync saw it at 08:00:01 and stamped that.
    instant = datetime(2026, 1, 2, 8, tzinfo=UTC)
    group = position(swap_account, opened=instant - 5 * timedelta(minutes=1), quantity="0.01", price="47000")
    noticed(group, instant + timedelta(seconds=1))
    exchange = BybitLike([pay(instant, "-0.47")])
    funding_sync(account_id=swap_account.pk, symbol=BTC, connector=exchange)
    exchange.payments.append(pay(instant + 8 * HOUR, "-0.47"))
    funding_sync(account_id=swap_account.pk, symbol=BTC, connector=exchange)

    assert recorded_payments() == [(instant, group.pk, D("-0.47")), (instant + 8 * HOUR, group.pk, D("-0.47"))]
    group.refresh_from_db()
    assert group.funding_pnl_usd == D("-0.94")


def test_a_group_noticed_just_after_the_instant_takes_no_share_from_the_one_that_held(swap_account):
    instant = datetime(2026, 1, 2, 8, tzinfo=UTC)
    held = position(swap_account, opened=instant - HOUR, quantity="0.01", price="47000", timeframe=60)
    joined = position(swap_account, opened=instant - 2 * timedelta(minutes=1), quantity="0.03", price="47000")
    noticed(joined, instant + timedelta(seconds=2))  # maybe filled before 08:00, maybe after: not known

    funding_sync(account_id=swap_account.pk, symbol=BTC, connector=BybitLike([pay(instant, "-0.47")]))

    assert recorded_payments() == [(instant, held.pk, D("-0.47"))]  # all of it to the one that held


def test_an_entry_noticed_after_the_grace_does_not_get_the_payment(swap_account):
    # Hedge mode, Bybit naming the side of each payment: the short was noticed filled at 08:01:01, the long at
    # 08:01:00 (the grace's last second still counts).
    instant = datetime(2026, 1, 2, 8, tzinfo=UTC)
    late = position(swap_account, side="short", opened=instant - HOUR, quantity="0.01", price="47000")
    noticed(late, instant + FILL_NOTICE_GRACE + timedelta(seconds=1))
    edge = position(swap_account, side="long", opened=instant - HOUR, quantity="0.01", price="47000")
    noticed(edge, instant + FILL_NOTICE_GRACE)
    exchange = BybitLike([pay(instant, "-0.47", side="short"), pay(instant, "0.2", side="long")])

    funding_sync(account_id=swap_account.pk, symbol=BTC, connector=exchange)

    # The short's payment: no one held, even a minute on (a trader's own position, say): not recorded.
    assert recorded_payments() == [(instant, edge.pk, D("0.2"))]


def test_a_payment_no_group_held_within_the_grace_is_asked_again_until_it_passes(swap_account):
    # The funding run comes 20 s after the instant, before the fill sync noticed the entry: the payment is not
    # dropped, the next run (after the grace) finds the holder.
    instant = datetime(2026, 1, 2, 8, tzinfo=UTC)
    group = position(swap_account, opened=instant - HOUR, quantity="0.01", price="47000")
    Order.objects.filter(group=group).update(status="open", filled_quantity=0, first_filled_at=None, filled_at=None)
    # Another payment right after it in the same answer (the other side's, in hedge mode) must not move the
    # cursor past the one waiting.
    other = position(swap_account, side="long", opened=instant - HOUR, quantity="0.01", price="47000")
    exchange = BybitLike([pay(instant, "-0.47"), pay(instant + timedelta(seconds=1), "0.2", side="long")])

    with mock.patch("django.utils.timezone.now", lambda: instant + timedelta(seconds=20)):
        funding_sync(account_id=swap_account.pk, symbol=BTC, connector=exchange)
    assert recorded_payments() == [(instant + timedelta(seconds=1), other.pk, D("0.2"))]

    Order.objects.filter(group=group).update(status="filled", filled_quantity=D("0.01"))
    noticed(group, instant + timedelta(seconds=25))
    funding_sync(account_id=swap_account.pk, symbol=BTC, connector=exchange)

    assert recorded_payments() == [
        (instant, group.pk, D("-0.47")),
        (instant + timedelta(seconds=1), other.pk, D("0.2")),
    ]
    assert exchange.asked == [instant - HOUR, instant]
