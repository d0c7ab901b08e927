"""The journal's vocabulary and its wording: pure, no ORM.

``JournalKind`` names what a journal entry records (values and labels as the risk app's
``RiskAction.ActionType`` had them: the API serves them as ``action_type``). ``summary(entry)`` is the
one place an entry's human text is written, from its kind, its numeric columns and its ``details``;
the risk page, the API (``notes``) and the admin show it. ``entry`` is a ``trading.models.JournalEntry``
(any object with its attributes will do).

Rows written before the journal had structured fields keep their text in ``details["note"]``
(migration ``trading 0010``); it is shown as it was.
"""

from decimal import Decimal

from django.db import models


class JournalKind(models.TextChoices):
    OFFSET_LOSS = "offset_loss", "Loss offset (loser closed, winners reduced)"
    CLOSE = "close", "Position closed"
    MANUAL_BLOCK = "manual_block", "Blocked from risk"
    MANUAL_UNBLOCK = "manual_unblock", "Unblocked"
    MANUAL_SKIP = "manual_skip", "Skip next evaluation"
    TIMER_STARTED = "timer_started", "Risk timer started"
    TIMER_EXPIRED = "timer_expired", "Risk timer expired"
    TIMER_RESET = "timer_reset", "Risk timer reset"
    ENGINE_PAUSED = "engine_paused", "Engine paused by loss limit"
    FORCE_STOP = "force_stop", "Engine force-stopped"
    FORCE_START = "force_start", "Engine force-started"
    ORPHAN_CANCELLED = "orphan_cancelled", "Unknown exchange order cancelled (reconciliation)"


class WinnersState(models.TextChoices):
    WAITING = "waiting", "Waiting for the loser's close"
    DISPATCHED = "dispatched", "Winners reduced after the loser closed"
    CANCELLED = "cancelled", "Loser's close failed; winners untouched"


# What a trader's per-position control did, said after the position and its figures.
CONTROL_OUTCOMES = {
    JournalKind.MANUAL_BLOCK: "blocked by the trader: it will not be closed as the loser until unblocked",
    JournalKind.MANUAL_UNBLOCK: "unblocked by the trader: it may be closed as the loser again",
    JournalKind.MANUAL_SKIP: "skipped once by the trader: the next evaluation will not close it as the loser",
}


def summary(entry) -> str:
    details = entry.details or {}
    if "note" in details:  # written before the journal had structured fields
        text = details["note"]
        if details.get("outcome_pending"):  # an offset still waiting for its loser's close then
            text += _offset_outcome(entry, details)
        return text
    render = _RENDER.get(entry.kind)
    try:
        return render(entry, details) if render else ""
    except KeyError:  # a row not written by trading.journal (a test's fixture): nothing to say
        return ""


def _two(number) -> str:
    return "?" if number is None else f"{Decimal(number):.2f}"


def _position(details: dict) -> str:
    return f"{details['side']} {details['symbol']} {details['timeframe']}m"


def _close(entry, details: dict) -> str:
    text = f"{_position(details)} closed ({entry.get_exit_reason_display()})"
    if "lost" in details:
        text += _lost(details)
    return text


# Where the exit price of a position the exchange closed comes from (``trading.services.closing``): the
# exchange's own closing orders when its history shows them, else an estimate.
PRICE_SOURCES = {
    "exchange": "from the closing order the exchange reports",
    "liquidation": "estimated at the liquidation price",
    "mark": "estimated at the last mark price",
    "entry": "estimated at the average entry (no price was known)",
}


def _lost(details: dict) -> str:
    """The exchange closed the position: what the engine expected, what the exchange held, what was done."""
    lost = details["lost"]
    base = details["symbol"].split("/")[0]
    text = (
        f": the engine expected {_amount(lost['expected'])} {base}, the exchange held "
        f"{_amount(lost['on_exchange'])}; {lost['cancelled']} resting order(s) cancelled; exit price "
        f"{PRICE_SOURCES.get(lost['price_source'], lost['price_source'])} {_amount(lost['price'])}."
    )
    if lost.get("unmanaged") and Decimal(lost["unmanaged"]) > 0:
        text += f" The {_amount(lost['unmanaged'])} {base} left on the exchange are no longer managed by the engine."
    return text


def _amount(value) -> str:
    return "?" if value is None else f"{Decimal(value).normalize():f}"


def _timer(entry, details: dict) -> str:
    if "pyramid_added" in details:  # a new pyramid reset a running timer
        return f"pyramid {details['pyramid_added']} added"
    return f"{_position(details)} at {_two(entry.pnl_percent)}%"


def _offset(entry, details: dict) -> str:
    return (
        f"Closing {details['symbol']} ({_two(entry.loser_pnl_usd)} USD); winners cover "
        f"{_two(details['covered_usd'])} of {_two(entry.required_usd)} USD, closing fees included; they are "
        f"reduced once the loser's close has filled." + _offset_outcome(entry, details)
    )


def _offset_outcome(entry, details: dict) -> str:
    if entry.winners_state == WinnersState.DISPATCHED:
        return f" The loser closed; {len(entry.winner_details or [])} winner close(s) sent."
    if entry.winners_state == WinnersState.CANCELLED:
        return f" The loser's close failed ({details.get('close_failure', '')}); the winners were left untouched."
    return ""


def _engine_paused(entry, details: dict) -> str:
    loss = -entry.realized_pnl_usd if entry.realized_pnl_usd is not None else None
    return (
        f"Realised loss today {_two(loss)} USD reached max_realized_loss_usd "
        f"{_two(details['max_realized_loss_usd'])}: new entries paused until tomorrow."
    )


def _force_stop(entry, details: dict) -> str:
    return f"Engine force-stopped by {details['by']}: new entries are queued until it is started again."


def _force_start(entry, details: dict) -> str:
    text = f"Engine started again by {details['by']}: queued entries are promoted."
    if details.get("paused_by_loss_limit"):
        text += " New entries stay paused by the daily loss limit (max_realized_loss_usd)."
    return text


def _control(entry, details: dict) -> str:
    return (
        f"{_position(details)} position on {details['exchange']} at {_two(entry.pnl_percent)}% "
        f"({_two(details['unrealized_pnl_usd'])} USD) {CONTROL_OUTCOMES[entry.kind]}."
    )


def _orphan(entry, details: dict) -> str:
    known = f"known to the database as {details['known_as']}" if details.get("known_as") else "unknown to the database"
    return (
        f"{details['side']} {details['amount']} {details['symbol']} @ {details['price']} "
        f"({details['client_order_id']}) on {details['exchange']} was open on the exchange but {known}: "
        f"cancelled."
    )


_RENDER = {
    JournalKind.CLOSE: _close,
    JournalKind.TIMER_STARTED: _timer,
    JournalKind.TIMER_EXPIRED: _timer,
    JournalKind.TIMER_RESET: _timer,
    JournalKind.OFFSET_LOSS: _offset,
    JournalKind.ENGINE_PAUSED: _engine_paused,
    JournalKind.FORCE_STOP: _force_stop,
    JournalKind.FORCE_START: _force_start,
    JournalKind.MANUAL_BLOCK: _control,
    JournalKind.MANUAL_UNBLOCK: _control,
    JournalKind.MANUAL_SKIP: _control,
    JournalKind.ORPHAN_CANCELLED: _orphan,
}
