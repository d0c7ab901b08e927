"""The ``auto`` intent (pure, no database): every strategy order TradingView reports, read as the move it made.

The rows are TradingView's own field values for each Pine call (README "Signals to orders"; the reference's
table of strategy alerts): action · prev_market_position → market_position · their sizes ·
{{strategy.order.contracts}}, all as the placeholders fill them in (strings, "flat", "0").
"""

from decimal import Decimal

import pytest

from tests.trading.test_alerts import errors_of, locs, parse, payload
from trading.intents import derive_intent

D = Decimal

# (Pine call, action, prev position, prev size, position, size, order contracts)
#   → (engine intent, move, side, quantity, summary)
TRANSITIONS = [
    (
        'strategy.entry("L", strategy.long) from flat',
        "buy",
        "flat",
        "0",
        "long",
        "0.015",
        "0.015",
        "signal",
        "open",
        "long",
        "0.015",
        "auto: flat → long 0.015: open long 0.015",
    ),
    (
        "second entry, pyramiding=3",
        "buy",
        "long",
        "0.015",
        "long",
        "0.03",
        "0.015",
        "signal",
        "add",
        "long",
        "0.015",
        "auto: long 0.015 → long 0.03: add 0.015 (a pyramid)",
    ),
    (
        "third entry, pyramiding=3",
        "buy",
        "long",
        "0.03",
        "long",
        "0.045",
        "0.015",
        "signal",
        "add",
        "long",
        "0.015",
        "auto: long 0.03 → long 0.045: add 0.015 (a pyramid)",
    ),
    (
        'strategy.close("L", qty_percent=50)',
        "sell",
        "long",
        "0.03",
        "long",
        "0.015",
        "0.015",
        "reduce",
        "reduce",
        "long",
        "0.015",
        "auto: long 0.03 → long 0.015: reduce by 0.015",
    ),
    (
        'strategy.exit("TP", "L", qty_percent=50, profit=…) fills',
        "sell",
        "long",
        "0.045",
        "long",
        "0.0225",
        "0.0225",
        "reduce",
        "reduce",
        "long",
        "0.0225",
        "auto: long 0.045 → long 0.0225: reduce by 0.0225",
    ),
    (
        'strategy.close("L")',
        "sell",
        "long",
        "0.015",
        "flat",
        "0",
        "0.015",
        "exit",
        "exit",
        "long",
        "0.015",
        "auto: long 0.015 → flat: exit the long",
    ),
    (
        'strategy.exit("SL", "L", loss=…) fills',
        "sell",
        "long",
        "0.03",
        "flat",
        "0",
        "0.03",
        "exit",
        "exit",
        "long",
        "0.03",
        "auto: long 0.03 → flat: exit the long",
    ),
    (
        'strategy.entry("S", strategy.short) while long: one order of old + new size',
        "sell",
        "long",
        "0.015",
        "short",
        "0.02",
        "0.035",
        "reverse",
        "reverse",
        "short",
        "0.02",
        "auto: long 0.015 → short 0.02: reverse (close the long, open short 0.02)",
    ),
    (
        'strategy.entry("S", strategy.short) from flat',
        "sell",
        "flat",
        "0",
        "short",
        "0.02",
        "0.02",
        "signal",
        "open",
        "short",
        "0.02",
        "auto: flat → short 0.02: open short 0.02",
    ),
    (
        "second short entry, pyramiding=3",
        "sell",
        "short",
        "0.02",
        "short",
        "0.04",
        "0.02",
        "signal",
        "add",
        "short",
        "0.02",
        "auto: short 0.02 → short 0.04: add 0.02 (a pyramid)",
    ),
    (
        'strategy.close("S", qty_percent=75)',
        "buy",
        "short",
        "0.04",
        "short",
        "0.01",
        "0.03",
        "reduce",
        "reduce",
        "short",
        "0.03",
        "auto: short 0.04 → short 0.01: reduce by 0.03",
    ),
    (
        "strategy.close_all() while short",
        "buy",
        "short",
        "0.01",
        "flat",
        "0",
        "0.01",
        "exit",
        "exit",
        "short",
        "0.01",
        "auto: short 0.01 → flat: exit the short",
    ),
    (
        'strategy.entry("L", strategy.long) while short',
        "buy",
        "short",
        "0.01",
        "long",
        "0.03",
        "0.04",
        "reverse",
        "reverse",
        "long",
        "0.03",
        "auto: short 0.01 → long 0.03: reverse (close the short, open long 0.03)",
    ),
]
over_every_transition = pytest.mark.parametrize(
    (
        "call",
        "action",
        "prev",
        "prev_size",
        "now",
        "size",
        "contracts",
        "intent",
        "move",
        "side",
        "quantity",
        "summary",
    ),
    TRANSITIONS,
    ids=[row[0] for row in TRANSITIONS],
)


@over_every_transition
def test_every_strategy_order_is_read_as_the_move_it_made(
    call, action, prev, prev_size, now, size, contracts, intent, move, side, quantity, summary
):
    derived = derive_intent(
        prev_market_position=prev,
        prev_market_position_size=D(prev_size),
        market_position=now,
        market_position_size=D(size),
        order_size=D(contracts),
    )

    assert (derived.intent, derived.move, derived.side, derived.quantity) == (intent, move, side, D(quantity))
    assert derived.summary == summary


@over_every_transition
def test_the_settings_template_filled_by_tradingview_routes_each_order_as_what_it_did(
    call, action, prev, prev_size, now, size, contracts, intent, move, side, quantity, summary
):
    # Before: the template's static "type": "signal" read a strategy.close (sell, long → flat) as a short entry.
    alert = parse(
        payload(
            tv={
                "action": action,
                "prev_market_position": prev,
                "prev_market_position_size": prev_size,
                "market_position": now,
                "market_position_size": size,
                "order_size": contracts,
            },
            execution_intent={"type": "auto", "side": action, "position_size_type": "contracts"},
        )
    )

    assert (alert.requested_intent, alert.intent, alert.side) == ("auto", intent, side)
    # The size acted on is the strategy's move, not the order's contracts (a reversal's are old + new).
    assert (alert.order_size, alert.position_size_type) == (D(quantity), "contracts")
    assert alert.derivation.summary == summary


def test_a_reduce_records_the_share_of_the_strategys_position_it_closed():
    half = derive_intent(
        prev_market_position="long",
        prev_market_position_size=D("0.03"),
        market_position="long",
        market_position_size=D("0.015"),
        order_size=D("0.015"),
    )
    three_quarters = derive_intent(
        prev_market_position="short",
        prev_market_position_size=D("0.04"),
        market_position="short",
        market_position_size=D("0.01"),
        order_size=D("0.03"),
    )

    assert (half.fraction, three_quarters.fraction) == (D("0.5"), D("0.75"))


@pytest.mark.parametrize(
    ("prev", "prev_size", "now", "size", "summary"),
    [
        (
            "flat",
            "0",
            "flat",
            "0",
            "auto: flat → flat: the strategy holds no position before or after this order, nothing to do",
        ),
        (
            "",
            None,
            "",
            None,  # an indicator's alert: no strategy position at all
            "auto: flat → flat: the strategy holds no position before or after this order, nothing to do",
        ),
        (
            "long",
            "0.03",
            "long",
            "0.03",
            "auto: long 0.03 → long 0.03: the strategy's position did not change, nothing to do",
        ),
    ],
)
def test_an_order_that_leaves_the_strategys_position_as_it_was_asks_for_nothing(prev, prev_size, now, size, summary):
    derived = derive_intent(
        prev_market_position=prev,
        prev_market_position_size=D(prev_size) if prev_size else None,
        market_position=now,
        market_position_size=D(size) if size else None,
        order_size=D("0.01"),
    )

    assert (derived.intent, derived.move, derived.side, derived.quantity) == ("", "none", "", None)
    assert derived.summary == summary


def test_a_flat_to_flat_alert_is_accepted_with_nothing_to_do():
    alert = parse(
        payload(
            tv={
                "prev_market_position": "flat",
                "prev_market_position_size": "0",
                "market_position": "flat",
                "market_position_size": "0",
            },
            execution_intent={"type": "auto"},
        )
    )

    assert (alert.intent, alert.side) == ("", "")


def test_an_add_or_a_reduce_cannot_be_told_apart_without_both_sizes():
    body = payload(
        tv={"prev_market_position": "long", "market_position": "long", "action": "sell"},
        execution_intent={"type": "auto"},
    )
    del body["tv"]["market_position_size"]
    del body["tv"]["prev_market_position_size"]

    errors = errors_of(body)

    assert locs(errors) == [["tv", "prev_market_position_size"]]
    assert "{{strategy.prev_market_position_size}}" in errors[0]["msg"]


def test_auto_needs_no_side_since_the_strategys_position_says_it():
    body = payload(
        tv={
            "action": "sell",
            "prev_market_position": "long",
            "prev_market_position_size": "0.01",
            "market_position": "flat",
            "market_position_size": "0",
        },
        execution_intent={"type": "auto"},
    )
    del body["execution_intent"]["side"]

    alert = parse(body)

    assert (alert.intent, alert.side, alert.intent_side) == ("exit", "long", "")


def test_explicit_intents_are_taken_as_stated():
    alert = parse(
        payload(
            tv={
                "action": "sell",
                "prev_market_position": "long",
                "prev_market_position_size": "0.01",
                "market_position": "flat",
                "market_position_size": "0",
                "order_size": "0.01",
            },
            execution_intent={"type": "signal", "side": "sell"},
        )
    )

    assert (alert.requested_intent, alert.intent, alert.side, alert.derivation) == ("signal", "signal", "short", None)
    assert (alert.order_size, alert.position_size_type) == (D("0.01"), "base")
