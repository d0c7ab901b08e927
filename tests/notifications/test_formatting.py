"""Message texts, byte for byte: the reference's entry example and each other message type."""

import re
from datetime import timedelta
from decimal import Decimal as D

from core.formatting import format_duration
from notifications.formatting import (
    DisplayOptions,
    ExitView,
    LegView,
    PositionView,
    PyramidView,
    format_dca_fill,
    format_exit,
    format_failure,
    format_pnl,
    format_position,
    format_price,
    format_pyramid_added,
    format_risk_event,
    format_status_change,
    format_threshold,
    format_tp_hit,
)

REFERENCE_ENTRY = """📈 LONG Entry
BINANCE · BTCUSDT · 15m
🆔 a1b2c3d4

┌─ DCA Levels ─────────────────
│ ✅ 40%  50,000.00  → TP 52,500.00
│ ⏳ 30%  49,500.00  → TP 51,975.00
│ ⏳ 30%  49,000.00  → TP 51,450.00
└──────────────────────────────
🎯 Aggregate TP: 52,000.00 (+4.0%)

📊 PARTIALLY_FILLED (1/3 legs)
💰 Invested: $500.00
📈 Unrealized: +1.25% (+$6.25)
📈 Avg Entry: 50,000.00

🔷 Pyramid 1/5 · per_leg TP
⏱️ Open: 15m"""


def plain(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def position(**changes) -> PositionView:
    fields = dict(
        group_id="a1b2c3d4-0000-4000-8000-000000000000",
        side="long",
        exchange="binance",
        symbol="BTC/USDT",
        timeframe_minutes=15,
        status="partially_filled",
        filled_legs=1,
        total_legs=3,
        pyramid_count=1,
        max_pyramids=5,
        tp_mode="per_leg",
        tp_aggregate_percent=D("4"),
        invested_usd=D("500"),
        unrealized_pnl_percent=D("1.25"),
        unrealized_pnl_usd=D("6.25"),
        weighted_avg_entry=D("50000"),
        base_entry_price=D("50000"),
        open_for=timedelta(minutes=15),
        pyramids=[
            PyramidView(
                0,
                [
                    LegView(D("40"), D("50000"), D("52500"), True),
                    LegView(D("30"), D("49500"), D("51975"), False),
                    LegView(D("30"), D("49000"), D("51450"), False),
                ],
            )
        ],
    )
    fields.update(changes)
    return PositionView(**fields)


NO_SIGNATURE = DisplayOptions()


def test_entry_message_is_the_reference_example():
    text = format_position(position(), NO_SIGNATURE)
    assert plain(text) == REFERENCE_ENTRY
    assert text.startswith("📈 <b>LONG Entry</b>\n")


def test_entry_hides_what_the_trader_switched_off():
    text = plain(
        format_position(
            position(), DisplayOptions(show_unrealized_pnl=False, show_invested_amount=False, show_duration=False)
        )
    )
    assert "Unrealized" not in text and "Invested" not in text and "Open:" not in text
    assert "📈 Avg Entry: 50,000.00" in text


def test_short_entry_and_several_pyramids():
    text = plain(
        format_pyramid_added(
            position(
                side="short",
                pyramid_count=2,
                pyramids=[
                    PyramidView(0, [LegView(D("100"), D("50000"), D("49000"), True)]),
                    PyramidView(1, [LegView(D("100"), D("51000"), None, False)]),
                ],
            ),
            NO_SIGNATURE,
        )
    )
    assert text.splitlines()[0] == "📉 SHORT Pyramid 2/5"
    assert "┌─ Pyramid 1 " in text and "┌─ Pyramid 2 " in text
    assert "│ ⏳ 100%  51,000.00\n" in text
    assert "🎯 Aggregate TP: 48,000.00 (+4.0%)" in text  # short: below the average


def test_user_supplied_text_is_escaped_and_signature_appended():
    text = format_failure(
        DisplayOptions(signature="<Bot> & co"), message="Order refused: <script>", position=position(symbol="A<B/USDT")
    )
    assert "&lt;script&gt;" in text and "<script>" not in text
    assert "A&lt;B" in text
    assert text.endswith("<i>&lt;Bot&gt; &amp; co</i>")


def test_exit_message():
    text = plain(
        format_exit(
            position(status="closed", open_for=timedelta(hours=2, minutes=30)),
            ExitView("Per-leg take-profit", D("40"), D("4"), D("50000"), D("52000")),
            NO_SIGNATURE,
        )
    )
    assert text == (
        "✅ LONG Exit · Per-leg take-profit\nBINANCE · BTCUSDT · 15m\n🆔 a1b2c3d4\n\n"
        "💵 PnL: +4.00% (+$40.00)\n📈 Avg Entry: 50,000.00 → Exit: 52,000.00\n🔷 Pyramids: 1/5\n⏱️ Duration: 2.5h"
    )


def test_losing_exit_is_marked():
    text = plain(
        format_exit(
            position(open_for=timedelta(days=1, hours=5)),
            ExitView("Stop loss", D("-12.5"), D("-2.5"), D("50000"), D("48750")),
            NO_SIGNATURE,
        )
    )
    assert text.startswith("❌ LONG Exit · Stop loss")
    assert "💵 PnL: -2.50% (-$12.50)" in text and "⏱️ Duration: 1.2d" in text


def test_a_swap_exit_says_what_funding_its_pnl_includes():
    text = plain(
        format_exit(
            position(status="closed", open_for=timedelta(hours=2)),
            ExitView("Per-leg take-profit", D("9.48881087"), D("2.02"), D("47000"), D("46000"), D("-0.04618913")),
            NO_SIGNATURE,
        )
    )
    assert "💵 PnL: +2.02% (+$9.49)\n⏳ Funding (in PnL): -$0.05\n📈 Avg Entry" in text


def test_dca_fill_message():
    text = plain(
        format_dca_fill(
            position(filled_legs=2, weighted_avg_entry=D("49785.71")),
            NO_SIGNATURE,
            pyramid_index=0,
            leg_index=1,
            fill_price=D("49500"),
            quantity=D("0.00606"),
        )
    )
    assert text == (
        "🧩 DCA fill · LONG\nBINANCE · BTCUSDT · 15m\n🆔 a1b2c3d4\n\n"
        "Pyramid 1 · leg 2: 0.00606 @ 49,500.00\n📊 PARTIALLY_FILLED (2/3 legs)\n"
        "📈 Avg Entry: 49,785.71\n💰 Invested: $500.00"
    )


def test_status_tp_risk_threshold_messages():
    view = position(status="active", filled_legs=3)
    assert plain(format_status_change(view, NO_SIGNATURE, from_status="partially_filled", to_status="active")).endswith(
        "PARTIALLY_FILLED → ACTIVE (3/3 legs)"
    )
    assert plain(format_tp_hit(view, NO_SIGNATURE, price=D("52500"), quantity=D("0.008"), pnl_usd=D("20"))).endswith(
        "Sold 0.008 @ 52,500.00\n💵 Profit: +$20.00"
    )
    risk = plain(
        format_risk_event(
            position(unrealized_pnl_percent=D("-5.5"), unrealized_pnl_usd=D("-27.5")),
            NO_SIGNATURE,
            event="timer_started",
            detail="wait 60 min",
        )
    )
    assert risk.startswith("🚨 ⏳ Risk timer started\n") and "📉 Unrealized: -5.50% (-$27.50)" in risk
    loss = plain(
        format_threshold(
            position(unrealized_pnl_percent=D("-5.2"), unrealized_pnl_usd=D("-26")),
            NO_SIGNATURE,
            kind="loss",
            threshold=D("-5"),
        )
    )
    assert loss.startswith("🔻 Loss alert · LONG") and loss.endswith("Unrealized -5.20% (-$26.00) crossed -5.00%")


def test_number_helpers():
    assert format_duration(timedelta(minutes=15)) == "15m"
    assert format_duration(timedelta(hours=2, minutes=30)) == "2.5h"
    assert format_duration(timedelta(hours=2)) == "2h"
    assert format_duration(timedelta(hours=28, minutes=48)) == "1.2d"
    assert format_price(D("1234567.891")) == "1,234,567.89"
    assert format_price(D("0.00001234")) == "0.00001234"
    assert format_price(D("0.5")) == "0.5000"  # 4 significant digits below 1
    assert format_pnl(D("-1.5"), D("-7.5")) == "-1.50% (-$7.50)"
    assert format_pnl(D("0"), D("0")) == "+0.00% (+$0.00)"


def test_a_message_within_telegrams_limit_is_sent_as_it_is():
    from notifications.formatting import fit_message

    assert fit_message(REFERENCE_ENTRY) == REFERENCE_ENTRY


def test_an_overlong_failure_is_cut_at_a_line_and_keeps_its_markup_whole():
    from notifications.formatting import MESSAGE_LIMIT, SHORTENED, fit_message

    # An exchange that answers with a page of text per failed order, one line each.
    reasons = "\n".join(f"order {n}: <rejected> & refused by the exchange" for n in range(400))
    message = format_failure(DisplayOptions(), message=reasons)
    assert len(message) > MESSAGE_LIMIT

    sent = fit_message(message)

    assert len(sent.encode("utf-16-le")) // 2 <= MESSAGE_LIMIT
    assert sent.endswith(SHORTENED)
    assert sent.startswith("⚠️ <b>Failure</b>")
    body = sent.removesuffix("\n" + SHORTENED)
    assert message.startswith(body) and message[len(body)] == "\n"  # whole lines only
    assert body.count("<b>") == body.count("</b>")
    assert "&lt;rejected&gt; &amp; refused" in body.splitlines()[-1]


def test_one_enormous_line_loses_its_markup_and_is_cut_within_the_limit():
    from notifications.formatting import MESSAGE_LIMIT, SHORTENED, fit_message

    sent = fit_message("<b>" + "€&" * 5000 + "</b>")

    assert len(sent.encode("utf-16-le")) // 2 <= MESSAGE_LIMIT
    assert "<b>" not in sent and sent.endswith(SHORTENED)
    assert sent.startswith("€&amp;€&amp;") and not sent.split("\n")[0].endswith("&amp")
