"""A TradingView strategy's alerts, replayed as TradingView sends them, move the engine's positions the
way the strategy's position moved, at every step (the Settings template, ``execution_intent`` auto).

Each alert is the Settings page's alert message with its placeholders filled in by text substitution,
posted as ``text/plain`` to the webhook, as TradingView does; workers run inline. The paper account
trades the walkthrough market (BTC/USDT at 100, 1,000 USD per pyramid over five legs, leg 0 at the
price: 2.000 BTC fills on arrival), so each entry or pyramid holds 2.000 more.
"""

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test import Client

from exchanges.models import PaperOrder, PaperPosition
from trading.alerts import alert_template
from trading.models import DCAConfiguration, Order, PositionGroup, Signal

pytestmark = pytest.mark.django_db
D = Decimal


@dataclass(frozen=True)
class StrategyOrder:
    """One order of the strategy as TradingView reports it."""

    call: str  # the Pine call, for the reader
    action: str
    prev: str
    prev_size: str
    now: str
    size: str
    contracts: str
    order_id: str = "L"
    price: str = "100"


@pytest.fixture
def tradingview(trader, eager_celery, django_capture_on_commit_callbacks):
    """tradingview(order) → the Signal the webhook stored for it, once routed and its exchange work done."""
    web = Client(REMOTE_ADDR=f"198.19.{random.randrange(250)}.{random.randrange(1, 250)}")
    template = alert_template(trader)

    def send(order: StrategyOrder) -> Signal:
        values = {
            "timenow": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "exchange": "BINANCE",
            "ticker": "BTCUSDT",
            "interval": "15",
            "strategy.order.action": order.action,
            "strategy.market_position": order.now,
            "strategy.market_position_size": order.size,
            "strategy.prev_market_position": order.prev,
            "strategy.prev_market_position_size": order.prev_size,
            "strategy.order.price": order.price,
            "close": order.price,
            "strategy.order.contracts": order.contracts,
            "strategy.order.id": order.order_id,
            "strategy.order.alert_message": "",
        }
        message = template
        for placeholder, value in values.items():
            message = message.replace("{{" + placeholder + "}}", value)
        with django_capture_on_commit_callbacks(execute=True):
            response = web.post(f"/webhooks/{trader.id}/tradingview", data=message, content_type="text/plain")
        assert response.status_code == 202, response.content
        return Signal.objects.get(pk=json.loads(response.content)["signal_id"])

    return send


def engine_position() -> tuple[str, Decimal]:
    """The engine's BTC/USDT 15m position: (side, held quantity) of its one active group, or ("flat", 0)."""
    active = list(PositionGroup.objects.exclude(status__in=["closed", "failed"]))
    assert len(active) <= 1, [(group.side, group.status) for group in active]
    if not active:
        return "flat", D(0)
    return active[0].side, active[0].total_filled_quantity


def exchange_position(account) -> tuple[str, Decimal]:
    """The paper swap account's one-way BTC/USDT:USDT position in BTC (contracts of 0.001), or ("flat", 0)."""
    held = PaperPosition.objects.filter(account=account, symbol="BTC/USDT:USDT", contracts__gt=0).first()
    return (held.side, held.contracts * D("0.001")) if held else ("flat", D(0))


def test_pyramids_a_half_close_and_a_strategy_exit_are_followed_at_every_step(tradingview):
    steps = [
        (
            StrategyOrder('strategy.entry("L", strategy.long)', "buy", "flat", "0", "long", "0.015", "0.015"),
            "opened",
            ("long", D("2.000")),
        ),
        (
            StrategyOrder("second entry (pyramiding=3)", "buy", "long", "0.015", "long", "0.03", "0.015"),
            "pyramided",
            ("long", D("4.000")),
        ),
        (
            StrategyOrder("third entry (pyramiding=3)", "buy", "long", "0.03", "long", "0.045", "0.015"),
            "pyramided",
            ("long", D("6.000")),
        ),
        (
            StrategyOrder(
                'strategy.close("L", qty_percent=50)',
                "sell",
                "long",
                "0.045",
                "long",
                "0.0225",
                "0.0225",
                order_id="Close half",
            ),
            "reduced",
            ("long", D("3.000")),
        ),
        (
            StrategyOrder(
                'strategy.exit("TP", "L", profit=…) fills',
                "sell",
                "long",
                "0.0225",
                "flat",
                "0",
                "0.0225",
                order_id="TP",
            ),
            "exited",
            ("flat", D(0)),
        ),
    ]
    for order, status, position in steps:
        signal = tradingview(order)

        assert signal.status == status, (order.call, signal.reason)
        assert engine_position() == position, order.call

    group = PositionGroup.objects.get()
    assert (group.status, group.exit_reason, group.pyramid_count) == ("closed", "exit_signal", 3)
    reduce, close = Order.objects.filter(role="exit").order_by("created_at")
    assert (reduce.exit_reason, reduce.side, reduce.filled_quantity) == ("reduce", "sell", D("3.000"))
    assert (close.exit_reason, close.side, close.filled_quantity) == ("exit_signal", "sell", D("3.000"))
    assert not PaperOrder.objects.filter(status="open").exists()
    assert not PositionGroup.objects.filter(side="short").exists()  # no exit ever became a short entry


def test_each_signal_says_what_the_strategys_order_did_and_where_the_size_came_from(tradingview):
    opened = tradingview(
        StrategyOrder('strategy.entry("L", strategy.long)', "buy", "flat", "0", "long", "0.015", "0.015")
    )
    tradingview(StrategyOrder("second entry", "buy", "long", "0.015", "long", "0.03", "0.015"))
    reduced = tradingview(
        StrategyOrder('strategy.close("L", qty_percent=50)', "sell", "long", "0.03", "long", "0.015", "0.015")
    )

    assert opened.intent == "signal"
    assert opened.reason.startswith("auto: flat → long 0.015: open long 0.015. Opened long BTC/USDT 15m on binance")
    assert opened.reason.endswith(
        "Size: 1,000 USDT per pyramid from the configuration; the alert's 0.015 BTC was "
        "not used — turn on use_signal_size to follow the strategy."
    )
    assert reduced.intent == "reduce"
    assert reduced.reason == (
        "auto: long 0.03 → long 0.015: reduce by 0.015. Market-closing 2 of the long BTC/USDT "
        "15m position (50% of the 4 held, the share the strategy closed)."
    )


def test_with_use_signal_size_the_engine_holds_the_strategys_own_quantities(tradingview, trader):
    # One leg at the price, so the whole pyramid fills at once and holds exactly the strategy's size.
    DCAConfiguration.objects.filter(user=trader, pair="BTC/USDT").update(
        use_signal_size=True, levels=[{"gap_percent": "0", "weight_percent": "100", "tp_percent": "5"}]
    )

    opened = tradingview(StrategyOrder("entry", "buy", "flat", "0", "long", "1.5", "1.5"))
    assert engine_position() == ("long", D("1.500"))
    tradingview(StrategyOrder("pyramid", "buy", "long", "1.5", "long", "3", "1.5"))
    assert engine_position() == ("long", D("3.000"))
    tradingview(StrategyOrder('strategy.close("L", qty_percent=50)', "sell", "long", "3", "long", "1.5", "1.5"))
    assert engine_position() == ("long", D("1.500"))  # the strategy's 1.5 contracts, in base units
    tradingview(StrategyOrder('strategy.close("L")', "sell", "long", "1.5", "flat", "0", "1.5"))
    assert engine_position() == ("flat", D(0))

    assert opened.reason.endswith("Size: 1.5 BTC from the alert (use_signal_size on).")
    assert [order.filled_quantity for order in Order.objects.filter(role="exit").order_by("created_at")] == [
        D("1.500"),
        D("1.500"),
    ]


def test_a_reversal_short_pyramid_partial_cover_and_close_all_are_followed(tradingview, trader, perpetuals):
    # The same chart ticker (BTCUSDT) on the trader's one account, a paper swap account: BTC/USDT:USDT.
    steps = [
        (
            StrategyOrder('strategy.entry("L", strategy.long)', "buy", "flat", "0", "long", "0.015", "0.015"),
            "opened",
            ("long", D("2.000")),
        ),
        # One order of old + new size: 0.015 to close the long, 0.02 to open the short.
        (
            StrategyOrder(
                'strategy.entry("S", strategy.short) while long',
                "sell",
                "long",
                "0.015",
                "short",
                "0.02",
                "0.035",
                order_id="S",
            ),
            "reversed",
            ("short", D("2.000")),
        ),
        (
            StrategyOrder(
                "second short entry (pyramiding=3)", "sell", "short", "0.02", "short", "0.04", "0.02", order_id="S"
            ),
            "pyramided",
            ("short", D("4.000")),
        ),
        (
            StrategyOrder(
                'strategy.close("S", qty_percent=75)', "buy", "short", "0.04", "short", "0.01", "0.03", order_id="Cover"
            ),
            "reduced",
            ("short", D("1.000")),
        ),
        (
            StrategyOrder("strategy.close_all()", "buy", "short", "0.01", "flat", "0", "0.01", order_id="Close all"),
            "exited",
            ("flat", D(0)),
        ),
    ]
    for order, status, position in steps:
        signal = tradingview(order)

        assert signal.status == status, (order.call, signal.reason)
        assert engine_position() == position, order.call
        assert exchange_position(perpetuals) == position, order.call

    long_group = PositionGroup.objects.get(side="long")
    short_group = PositionGroup.objects.get(side="short")
    assert (long_group.status, long_group.exit_reason) == ("closed", "reverse")
    assert (short_group.status, short_group.exit_reason, short_group.pyramid_count) == ("closed", "exit_signal", 2)
    assert not PaperOrder.objects.filter(status="open").exists()
    assert not PaperPosition.objects.filter(account=perpetuals, contracts__gt=0).exists()  # flat on the exchange


def test_a_strategy_exit_on_a_spot_account_closes_the_long_and_opens_no_short(tradingview):
    # Before: the template's "type": "signal" queued this sell as a short entry and left the long open.
    tradingview(StrategyOrder('strategy.entry("L", strategy.long)', "buy", "flat", "0", "long", "0.015", "0.015"))

    signal = tradingview(
        StrategyOrder(
            'strategy.exit("SL", "L", loss=…) fills',
            "sell",
            "long",
            "0.015",
            "flat",
            "0",
            "0.015",
            order_id="SL",
            price="100",
        )
    )

    assert (signal.intent, signal.side, signal.status) == ("exit", "long", "exited")
    assert engine_position() == ("flat", D(0))
    assert not PositionGroup.objects.filter(side="short").exists()
    assert not Signal.objects.filter(status="queued").exists()


def test_an_order_that_leaves_the_strategy_flat_to_flat_is_ignored_with_the_reason(tradingview):
    signal = tradingview(
        StrategyOrder("an order filled and cancelled out on one bar", "sell", "flat", "0", "flat", "0", "0.015")
    )

    assert (signal.status, signal.intent) == ("ignored", "")
    assert signal.reason == (
        "auto: flat → flat: the strategy holds no position before or after this order, nothing "
        "to do. Nothing was placed or closed."
    )
    assert not PositionGroup.objects.exists() and not PaperOrder.objects.exists()


def test_the_position_page_says_where_each_pyramids_size_came_from(tradingview, trader, client):
    tradingview(StrategyOrder('strategy.entry("L", strategy.long)', "buy", "flat", "0", "long", "0.015", "0.015"))
    tradingview(StrategyOrder("second entry", "buy", "long", "0.015", "long", "0.03", "0.015"))
    group = PositionGroup.objects.get()

    client.force_login(trader)
    page = client.get(f"/positions/{group.pk}/").content.decode()

    note = (
        "Size: 1,000 USDT per pyramid from the configuration; the alert&#x27;s 0.015 BTC was not used — turn on "
        "use_signal_size to follow the strategy"
    )
    assert page.count(note) == 2  # one per pyramid


def test_a_queued_entry_says_what_the_strategy_did_and_is_opened_on_promotion(tradingview, trader):
    from trading.models import QueuedSignal, RiskConfig
    from trading.services.routing import signal_route

    RiskConfig.objects.filter(user=trader).update(max_total_exposure_usd=D("500"))  # under one pyramid's 1,000

    signal = tradingview(
        StrategyOrder('strategy.entry("L", strategy.long)', "buy", "flat", "0", "long", "0.015", "0.015")
    )

    assert signal.status == "queued"
    assert signal.reason.startswith("auto: flat → long 0.015: open long 0.015. Queued: ")
    RiskConfig.objects.filter(user=trader).update(max_total_exposure_usd=D("10000"))
    promoted = signal_route(signal_id=signal.pk, queue_entry_id=QueuedSignal.objects.get().pk)
    assert promoted.status == "opened"
    assert promoted.reason.startswith("auto: flat → long 0.015: open long 0.015. Opened long BTC/USDT 15m")
