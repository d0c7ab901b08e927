"""Telegram messages (pure): plain dataclasses in, HTML strings out (reference §7.2).

No ORM here: ``notifications.services`` loads the rows into these views. Everything a user or an
exchange supplied (symbols, reasons, error messages, the signature) is HTML-escaped, because the
messages go out in Telegram's HTML parse mode.
"""

import re
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from html import escape, unescape

from core.formatting import format_duration
from exchanges.currency import is_usd, quote_of
from trading import take_profit

BOX_WIDTH = 30  # the reference's box: 30 rules after the corner, as in "└──…" of the entry example


# Telegram refuses a message longer than this (400 "message is too long"), counted in UTF-16 units.
MESSAGE_LIMIT = 4096
SHORTENED = "… (shortened)"
_TAG = re.compile(r"<[^>]+>")


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def fit_message(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` cut to Telegram's limit at a line boundary, marked as shortened.

    Whole lines only, so no HTML tag is cut in half (every line of these messages closes its own
    tags). A first line too long on its own loses its markup and is cut mid-line instead. Lengths
    are counted with the tags, so a kept text is always within the limit Telegram counts without them.
    """
    if _units(text) <= limit:
        return text
    budget = limit - _units(SHORTENED) - 1
    kept: list[str] = []
    used = 0
    for line in text.split("\n"):
        cost = _units(line) + (1 if kept else 0)
        if used + cost > budget:
            break
        kept.append(line)
        used += cost
    if not kept:
        plain = unescape(_TAG.sub("", text.split("\n")[0]))[:budget]
        while _units(escape(plain)) > budget:
            plain = plain[:-1]
        kept = [escape(plain)]
    return "\n".join(kept) + "\n" + SHORTENED


@dataclass(frozen=True)
class LegView:
    """One DCA leg as the card shows it."""

    weight_percent: Decimal
    price: Decimal
    tp_price: Decimal | None
    filled: bool


@dataclass(frozen=True)
class PyramidView:
    index: int  # 0 = initial entry
    legs: list[LegView]


@dataclass(frozen=True)
class DisplayOptions:
    """The TelegramConfig switches that change what a message shows."""

    show_unrealized_pnl: bool = True
    show_invested_amount: bool = True
    show_duration: bool = True
    signature: str = ""


@dataclass(frozen=True)
class PositionView:
    """What the position card needs to know about a position group."""

    group_id: str
    side: str  # long | short
    exchange: str
    symbol: str
    timeframe_minutes: int
    status: str
    filled_legs: int
    total_legs: int
    pyramid_count: int
    max_pyramids: int
    tp_mode: str
    tp_aggregate_percent: Decimal
    invested_usd: Decimal
    unrealized_pnl_percent: Decimal
    unrealized_pnl_usd: Decimal
    weighted_avg_entry: Decimal | None
    base_entry_price: Decimal
    open_for: timedelta
    pyramids: list[PyramidView] = field(default_factory=list)

    @property
    def quote(self) -> str:
        """The currency its amounts are in (``exchanges.currency``)."""
        return quote_of(self.symbol)


@dataclass(frozen=True)
class ExitView:
    reason: str  # human label, e.g. "Take-profit"
    realized_pnl_usd: Decimal
    realized_pnl_percent: Decimal | None
    entry_price: Decimal | None
    exit_price: Decimal | None
    funding_pnl_usd: Decimal = Decimal(0)  # funding received (+) or paid (-), part of realized_pnl_usd


# --- Number helpers (reference §7.2 helper methods) -------------------------------------------


def format_price(price: Decimal | None, decimals: int | None = None) -> str:
    """Thousands separators; 2 decimals from 1 up, enough for 4 significant digits below (max 8)."""
    if price is None:
        return "—"
    price = Decimal(price)
    if decimals is None:
        decimals = 2
        if 0 < abs(price) < 1:
            decimals = min(8, max(2, -price.copy_abs().adjusted() + 3))
    return f"{price:,.{decimals}f}"


def format_usd(amount: Decimal, *, signed: bool = False) -> str:
    amount = Decimal(amount)
    sign = ("+" if amount >= 0 else "-") if signed else ("-" if amount < 0 else "")
    return f"{sign}${abs(amount):,.2f}"


def format_money(amount: Decimal, quote: str, *, signed: bool = False) -> str:
    """A position's amount in its quote currency: '$6.25' for a USD stablecoin, '+0.00012345 BTC' otherwise
    (8 significant digits: two decimals of a bitcoin hide most of a position's PnL)."""
    if is_usd(quote):
        return format_usd(amount, signed=signed)
    amount = Decimal(amount)
    sign = ("+" if amount >= 0 else "-") if signed else ("-" if amount < 0 else "")
    return f"{sign}{format_price(abs(amount))} {quote}"


def format_pnl(percent: Decimal | None, amount: Decimal | None = None, quote: str = "USD") -> str:
    """'+1.25% (+$6.25)', '+1.25% (+0.0001 BTC)'; the amount only when given."""
    text = "—" if percent is None else f"{'+' if percent >= 0 else '-'}{abs(Decimal(percent)):.2f}%"
    if amount is not None:
        text += f" ({format_money(amount, quote, signed=True)})"
    return text


def format_percent(percent: Decimal) -> str:
    return f"{'+' if percent >= 0 else '-'}{abs(Decimal(percent)):.1f}%"


def format_timeframe(minutes: int) -> str:
    if minutes % 10080 == 0:
        return f"{minutes // 10080}W"
    if minutes % 1440 == 0:
        return f"{minutes // 1440}D"
    if minutes % 60 == 0 and minutes >= 60:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def short_id(group_id: str) -> str:
    return str(group_id).replace("-", "")[:8]


def _market_line(exchange: str, symbol: str, timeframe_minutes: int) -> str:
    return f"{escape(exchange.upper())} · {escape(symbol.replace('/', ''))} · {format_timeframe(timeframe_minutes)}"


def _header(position_or_side, title: str) -> str:
    side = position_or_side
    return f"{'📈' if side == 'long' else '📉'} <b>{side.upper()} {escape(title)}</b>"


def _signed_icon(value: Decimal) -> str:
    return "📈" if value >= 0 else "📉"


def _with_signature(lines: list[str], options: DisplayOptions, *, note: str = "") -> str:
    """The message's lines, then its note (when there is one) and the trader's signature."""
    if note:
        lines.append(f"ℹ️ {escape(note)}")
    if options.signature.strip():
        lines += ["", f"<i>{escape(options.signature.strip())}</i>"]
    return "\n".join(lines)


def _identity(position: PositionView) -> list[str]:
    return [
        _market_line(position.exchange, position.symbol, position.timeframe_minutes),
        f"🆔 <code>{short_id(position.group_id)}</code>",
    ]


# --- Messages ---------------------------------------------------------------------------------


def aggregate_target(position: PositionView) -> Decimal | None:
    """The card's aggregate take-profit: the engine's formula, from the average entry (the planned entry before
    any fill)."""
    basis = position.weighted_avg_entry or position.base_entry_price
    if not position.tp_aggregate_percent or not basis:
        return None
    return take_profit.aggregate_target(position.side, basis, position.tp_aggregate_percent)


def format_position(position: PositionView, options: DisplayOptions, *, title: str = "Entry") -> str:
    """The position card (reference §7.2 entry example): sent on entry, then edited in place."""
    lines = [_header(position.side, title), *_identity(position), ""]
    for pyramid in position.pyramids:
        label = "DCA Levels" if len(position.pyramids) == 1 else f"Pyramid {pyramid.index + 1}"
        lines.append(f"┌─ {label} " + "─" * max(1, BOX_WIDTH - len(label) - 3))
        for leg in pyramid.legs:
            mark = "✅" if leg.filled else "⏳"
            target = f"  → TP {format_price(leg.tp_price)}" if leg.tp_price else ""
            lines.append(f"│ {mark} {leg.weight_percent.normalize():f}%  {format_price(leg.price)}{target}")
        lines.append("└" + "─" * BOX_WIDTH)
    aggregate = aggregate_target(position)
    if aggregate is not None:
        lines.append(f"🎯 Aggregate TP: {format_price(aggregate)} ({format_percent(position.tp_aggregate_percent)})")
    lines += ["", f"📊 {escape(position.status.upper())} ({position.filled_legs}/{position.total_legs} legs)"]
    if options.show_invested_amount:
        lines.append(f"💰 Invested: {format_money(position.invested_usd, position.quote)}")
    if options.show_unrealized_pnl and position.filled_legs:
        lines.append(
            f"{_signed_icon(position.unrealized_pnl_percent)} Unrealized: "
            f"{format_pnl(position.unrealized_pnl_percent, position.unrealized_pnl_usd, position.quote)}"
        )
    if position.weighted_avg_entry:
        lines.append(f"📈 Avg Entry: {format_price(position.weighted_avg_entry)}")
    lines += ["", f"🔷 Pyramid {position.pyramid_count}/{position.max_pyramids} · {escape(position.tp_mode)} TP"]
    if options.show_duration:
        lines.append(f"⏱️ Open: {format_duration(position.open_for)}")
    return _with_signature(lines, options)


def format_pyramid_added(position: PositionView, options: DisplayOptions) -> str:
    return format_position(position, options, title=f"Pyramid {position.pyramid_count}/{position.max_pyramids}")


def format_dca_fill(
    position: PositionView,
    options: DisplayOptions,
    *,
    pyramid_index: int,
    leg_index: int,
    fill_price: Decimal,
    quantity: Decimal,
) -> str:
    lines = [
        f"🧩 <b>DCA fill</b> · {position.side.upper()}",
        *_identity(position),
        "",
        f"Pyramid {pyramid_index + 1} · leg {leg_index + 1}: {quantity.normalize():f} @ {format_price(fill_price)}",
        f"📊 {escape(position.status.upper())} ({position.filled_legs}/{position.total_legs} legs)",
    ]
    if position.weighted_avg_entry:
        lines.append(f"📈 Avg Entry: {format_price(position.weighted_avg_entry)}")
    if options.show_invested_amount:
        lines.append(f"💰 Invested: {format_money(position.invested_usd, position.quote)}")
    return _with_signature(lines, options)


def format_status_change(
    position: PositionView, options: DisplayOptions, *, from_status: str, to_status: str, reason: str = ""
) -> str:
    lines = [
        f"🔄 <b>Status</b> · {position.side.upper()}",
        *_identity(position),
        "",
        f"{escape(from_status.upper())} → <b>{escape(to_status.upper())}</b>"
        f" ({position.filled_legs}/{position.total_legs} legs)",
    ]
    return _with_signature(lines, options, note=reason)


def format_tp_hit(
    position: PositionView,
    options: DisplayOptions,
    *,
    price: Decimal,
    quantity: Decimal,
    pnl_usd: Decimal | None = None,
) -> str:
    lines = [
        f"🎯 <b>Take-profit hit</b> · {position.side.upper()}",
        *_identity(position),
        "",
        f"Sold {quantity.normalize():f} @ {format_price(price)}",
    ]
    if pnl_usd is not None:
        lines.append(f"💵 Profit: {format_money(pnl_usd, position.quote, signed=True)}")
    return _with_signature(lines, options)


def format_exit(position: PositionView, exit_: ExitView, options: DisplayOptions) -> str:
    won = exit_.realized_pnl_usd >= 0
    lines = [
        f"{'✅' if won else '❌'} <b>{position.side.upper()} Exit</b> · {escape(exit_.reason)}",
        *_identity(position),
        "",
        f"💵 PnL: {format_pnl(exit_.realized_pnl_percent, exit_.realized_pnl_usd, position.quote)}",
    ]
    if exit_.funding_pnl_usd:
        lines.append(f"⏳ Funding (in PnL): {format_money(exit_.funding_pnl_usd, position.quote, signed=True)}")
    if exit_.entry_price or exit_.exit_price:
        lines.append(f"📈 Avg Entry: {format_price(exit_.entry_price)} → Exit: {format_price(exit_.exit_price)}")
    lines.append(f"🔷 Pyramids: {position.pyramid_count}/{position.max_pyramids}")
    if options.show_duration:
        lines.append(f"⏱️ Duration: {format_duration(position.open_for)}")
    return _with_signature(lines, options)


RISK_TITLES = {
    "timer_started": "⏳ Risk timer started",
    "timer_expired": "⌛ Risk timer expired: eligible for offset",
    "timer_reset": "♻️ Risk timer reset",
    "offset_executed": "⚖️ Loss offset executed",
}


def format_risk_event(position: PositionView, options: DisplayOptions, *, event: str, detail: str = "") -> str:
    lines = [
        f"🚨 <b>{escape(RISK_TITLES.get(event, event))}</b>",
        *_identity(position),
        "",
        f"{_signed_icon(position.unrealized_pnl_percent)} Unrealized: "
        f"{format_pnl(position.unrealized_pnl_percent, position.unrealized_pnl_usd, position.quote)}",
    ]
    return _with_signature(lines, options, note=detail)


def format_failure(options: DisplayOptions, *, message: str, position: PositionView | None = None) -> str:
    lines = ["⚠️ <b>Failure</b>"]
    if position is not None:
        lines += [
            f"{position.side.upper()} " + _market_line(position.exchange, position.symbol, position.timeframe_minutes),
            f"🆔 <code>{short_id(position.group_id)}</code>",
        ]
    lines += ["", escape(message)]
    return _with_signature(lines, options)


def format_threshold(position: PositionView, options: DisplayOptions, *, kind: str, threshold: Decimal) -> str:
    title = "Loss alert" if kind == "loss" else "Profit alert"
    icon = "🔻" if kind == "loss" else "🔺"
    lines = [
        f"{icon} <b>{title}</b> · {position.side.upper()}",
        *_identity(position),
        "",
        f"Unrealized {format_pnl(position.unrealized_pnl_percent, position.unrealized_pnl_usd, position.quote)} "
        f"crossed {format_pnl(threshold)}",
    ]
    return _with_signature(lines, options)


def format_test(options: DisplayOptions, *, channel_name: str) -> str:
    return _with_signature(
        [f"✅ <b>Test message</b> for {escape(channel_name)}", "Your DCA engine can post to this chat."], options
    )
