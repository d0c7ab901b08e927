"""The ``auto`` intent: what a strategy's order did, read from its own position change (pure).

TradingView sends one alert for every order a strategy's broker emulator executes, entries, adds,
partial closes, full closes and reversals alike, with the strategy's position before and after the
order (``{{strategy.prev_market_position}}``/``{{strategy.market_position}}``, "long", "short" or
"flat") and their absolute sizes in contracts. A static ``"type": "signal"`` read a ``strategy.close``
(action ``sell``, long → flat) as a short entry; ``auto`` reads the position change instead:

=====================  ===================================  ==========================
before → after         move                                 engine intent
=====================  ===================================  ==========================
flat → long/short      open                                 signal
long → long, larger    add (a pyramid)                      signal
long → long, smaller   reduce by the difference             reduce
long → flat            exit                                 exit
long → short           reverse (close the long, open short) reverse
flat → flat, or no     nothing to do                        "" (ignored with a reason)
size change
=====================  ===================================  ==========================

mirrored for short. An empty position ("": indicator alerts, typed by hand) counts as flat.

Sizes are the strategy's, in contracts (TradingView states position sizes in contracts whatever the
alert's ``position_size_type``), so the size of the move is derived from them: the order's own
``{{strategy.order.contracts}}`` of a reversal is the old size plus the new one, not what is opened.
"""

from dataclasses import dataclass
from decimal import Decimal

SIDES = ("long", "short")


class IntentUnclear(ValueError):
    """The alert does not carry what ``auto`` needs; the message says which field to add."""

    def __init__(self, message: str, *, field: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Derivation:
    """What one strategy order did, in the engine's terms."""

    intent: str  # signal | exit | reduce | reverse | "" (nothing to do)
    move: str  # open | add | reduce | exit | reverse | none: the trader's word for it
    side: str  # the position side the alert is about (long | short), "" when nothing is to be done
    # open/add/reverse: the size to open or add; reduce: the difference; exit: the size closed (None
    # when TradingView did not say). In contracts, like the strategy's sizes.
    quantity: Decimal | None
    # reduce: the share of the strategy's position the order closed (difference / size before).
    fraction: Decimal | None
    summary: str  # "auto: long 0.03 → long 0.015: reduce by 0.015"


def _number(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _position(side: str, size: Decimal | None) -> str:
    if side not in SIDES:
        return "flat"
    return f"{side} {_number(size)}" if size is not None else side


def derive_intent(
    *,
    prev_market_position: str,
    prev_market_position_size: Decimal | None,
    market_position: str,
    market_position_size: Decimal | None,
    order_size: Decimal | None,
) -> Derivation:
    """The move a strategy order made, from the strategy's position before and after it.

    Raises ``IntentUnclear`` when the alert cannot tell an add from a reduce (a same-side order
    without both position sizes).
    """
    before = prev_market_position if prev_market_position in SIDES else "flat"
    after = market_position if market_position in SIDES else "flat"
    change = f"auto: {_position(before, prev_market_position_size)} → {_position(after, market_position_size)}"

    if before == "flat" and after == "flat":
        return Derivation(
            "",
            "none",
            "",
            None,
            None,
            f"{change}: the strategy holds no position before or after this order, nothing to do",
        )
    if before == "flat":
        quantity = market_position_size or order_size
        size = f" {_number(quantity)}" if quantity else ""
        return Derivation("signal", "open", after, quantity, None, f"{change}: open {after}{size}")
    if after == "flat":
        return Derivation("exit", "exit", before, prev_market_position_size, None, f"{change}: exit the {before}")
    if before != after:
        quantity = market_position_size
        size = f" {_number(quantity)}" if quantity else ""
        return Derivation(
            "reverse", "reverse", after, quantity, None, f"{change}: reverse (close the {before}, open {after}{size})"
        )

    if prev_market_position_size is None or market_position_size is None:
        field = "prev_market_position_size" if prev_market_position_size is None else "market_position_size"
        raise IntentUnclear(
            f"execution_intent auto needs tv.{field} ({{{{strategy.{field}}}}}) to tell adding to the "
            f"{after} from reducing it",
            field=field,
        )
    if market_position_size > prev_market_position_size:
        quantity = market_position_size - prev_market_position_size
        return Derivation("signal", "add", after, quantity, None, f"{change}: add {_number(quantity)} (a pyramid)")
    if market_position_size < prev_market_position_size:
        quantity = prev_market_position_size - market_position_size
        return Derivation(
            "reduce",
            "reduce",
            after,
            quantity,
            quantity / prev_market_position_size,
            f"{change}: reduce by {_number(quantity)}",
        )
    return Derivation("", "none", "", None, None, f"{change}: the strategy's position did not change, nothing to do")
