"""TradingView alert payloads: one webhook body in, one validated ``Alert`` (or every error) out.

Pure: plain values in and out, no ORM, tested without a database. The webhook view calls
``parse_alert`` with ``now`` to refuse replays; the router re-parses the stored payload with
``now=None`` (the timestamp was checked on arrival).

Authentication is not done here: the view answers 401/403 for the ``secret`` before validating,
and stored payloads have the secret removed, so ``secret`` is ignored by this module.

Errors are pydantic-shaped (``{"loc": [...], "msg": ..., "type": ...}``) and *all* of them are
reported at once, so a trader fixes an alert template in one round trip.

Numbers arrive as ``Decimal`` from the webhook (``json_number``: never a float, so ``1e999999`` is
not ``inf``) and as int/float from a stored payload; a non-finite or float-overflowing number
anywhere in the payload is an error at its location, so nothing unstorable reaches the database.
Payloads nested deeper than ``MAX_JSON_DEPTH`` are refused before any walk, so no walk of a payload
(here or in the webhook) can reach Python's recursion limit.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from trading.intents import Derivation, IntentUnclear, derive_intent
from trading.vocabulary import Side

# "auto" (the Settings template's default) derives one of the others from the strategy's own
# position change (``trading.intents``); the others are stated by the trader.
AUTO = "auto"
INTENTS = (AUTO, "signal", "exit", "reduce", "reverse")
INTENT_SIDES = ("buy", "sell", "long", "short")
# {{strategy.order.action}} is always "buy" or "sell".
ACTIONS = ("buy", "sell")
# {{strategy.market_position}} / {{strategy.prev_market_position}}: TradingView sends "flat" when
# there is no position; an empty string (alerts from indicators, typed by hand) means the same.
MARKET_POSITIONS = ("long", "short", "flat", "")
POSITION_SIZE_TYPES = ("contracts", "base", "quote")
# The template's order_size is {{strategy.order.contracts}}, so a size arriving without a stated
# type is in contracts. Reading it as quote would turn "0.5" BTC into a $0.50 order.
DEFAULT_POSITION_SIZE_TYPE = "contracts"
PRECISION_MODES = ("auto",)
DEFAULT_SOURCE = "tradingview"

# Signal.exchange / Signal.tv_symbol column widths: longer values would fail the INSERT.
MAX_EXCHANGE_LENGTH = 32
MAX_SYMBOL_LENGTH = 64
MAX_ACCOUNT_LENGTH = 100  # ExchangeAccount.label's
# Money columns hold 28 digits with 12 decimal places: below 10**16 before the point, and a price
# below 10**-12 would be stored as 0.
MAX_NUMBER = Decimal(10) ** 16
SMALLEST_PRICE = Decimal(10) ** -12

MINUTES_PER_UNIT = {"": 1, "D": 1440, "W": 10080, "M": 43200}
LONGEST_TIMEFRAME_MINUTES = 12 * MINUTES_PER_UNIT["M"]  # TradingView's longest interval is 12M
_TIMEFRAME = re.compile(r"(\d*)([A-Za-z]?)")
_EPOCH = re.compile(r"\d+(\.\d+)?")
# Epoch numbers at or above this are milliseconds (10**11 seconds is the year 5138).
_EPOCH_MILLISECONDS_FROM = 10**11
_PLACEHOLDER = re.compile(r"\{\{.*?\}\}", re.DOTALL)
# A TradingView alert is 2 levels deep (README "Webhook"). 32 leaves room for any hand-made extras, and
# keeps every walk of a payload ~1,000 frames short of Python's recursion limit (a walk takes one or
# two frames per level: the limit was hit from ~500 levels).
MAX_JSON_DEPTH = 32

_MISSING = object()


@dataclass(frozen=True)
class Alert:
    """One validated TradingView alert, in the engine's terms (the router reads these names)."""

    user_id: uuid.UUID
    source: str
    timestamp: datetime  # aware, UTC
    exchange: str  # lower case, names the user's exchange account
    tv_symbol: str  # as sent: BTCUSDT, BINANCE:BTCUSDT, BTC/USDT, BTCUSDT.P
    timeframe: int  # minutes
    action: str  # buy | sell
    market_position: str  # long | short | flat | ""
    market_position_size: Decimal | None
    prev_market_position: str
    prev_market_position_size: Decimal | None
    entry_price: Decimal
    close_price: Decimal | None
    # What the alert asks to open, add or reduce. With the auto intent: derived from the strategy's
    # position sizes (the new position for an open or a reversal, the difference for an add or a
    # reduce), in contracts; otherwise tv.order_size as sent, in position_size_type.
    order_size: Decimal | None
    trade_id: str
    alert_name: str
    alert_message: str
    intent: str  # signal | exit | reduce | reverse; "" when auto found nothing to do
    intent_side: str  # buy | sell | long | short, as sent (lower case); "" if auto and not sent
    position_size_type: str  # contracts | base | quote (contracts with auto: the strategy's sizes)
    precision_mode: str
    max_slippage_percent: Decimal | None
    stop_loss: Decimal | None
    take_profit: Decimal | None
    side: str  # long | short: the position side this alert is about
    requested_intent: str  # execution_intent.type as sent: auto, or the intent itself
    derivation: Derivation | None  # auto: what the strategy's order did, and why
    # execution_intent.account: the label of the exchange account to trade ("": chosen from the ticker,
    # exchanges.account_choice)
    account: str = ""


class AlertInvalid(Exception):
    """The payload failed validation; ``errors`` lists every problem, pydantic-style."""

    def __init__(self, errors: list[dict]):
        super().__init__("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors))
        self.errors = errors


def errors_summary(errors: list[dict]) -> str:
    """The errors as one line a trader can read on the signals page."""
    return "; ".join(f"{'.'.join(map(str, error['loc'])) or 'body'}: {error['msg']}" for error in errors)


class _Errors:
    """Collects errors; a field already reported (an unreplaced placeholder) is not checked again."""

    def __init__(self) -> None:
        self.items: list[dict] = []
        self.reported: set[tuple] = set()

    def add(self, loc: tuple, msg: str, type_: str) -> None:
        self.items.append({"loc": list(loc), "msg": msg, "type": type_})
        self.reported.add(loc)


def json_number(text: str) -> Decimal:
    """A JSON number literal with a fraction or exponent as an exact Decimal (``json.loads``'s
    ``parse_float``): ``1e999999`` stays a (finite, absurd) Decimal instead of the float ``inf``.

    An exponent beyond what Decimal holds (``1e99999999999999999999``) becomes NaN, refused at its
    field like any non-finite number, rather than an exception out of the JSON parser.
    """
    try:
        return Decimal(text)
    except InvalidOperation:
        return Decimal("NaN")


def json_depth_exceeds(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a decoded JSON value nests objects/arrays more than ``limit`` levels (the top object
    is level 1). Iterative, so a value of any depth is measured without recursion."""
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        container, depth = stack.pop()
        if depth > limit:
            return True
        items = container.values() if isinstance(container, dict) else container
        stack.extend((item, depth + 1) for item in items if isinstance(item, dict | list))
    return False


def number_problem(value: Any) -> str | None:
    """Why a JSON number cannot be kept (non-finite, or beyond a float's range), or None."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            return "Input should be a finite number"
        if not math.isfinite(float(value)):
            return f"Input should be a finite number; {value} is out of range"
    elif isinstance(value, float) and not math.isfinite(value):
        return "Input should be a finite number"
    return None


_NUL_MESSAGE = "Contains a NUL character (\\u0000), which cannot be stored: remove it from the alert message"


def _placeholders(errors: _Errors, value: Any, loc: tuple) -> None:
    """Report every string, at any depth, that still holds a TradingView ``{{…}}`` placeholder, every
    key or string holding a NUL character (valid JSON, but no database stores it), and every number
    that is not finite (``NaN``, ``1e999999``: the database stores no infinity either).

    Recursive: call only on a value within ``MAX_JSON_DEPTH`` (``parse_alert`` checks first)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                errors.add((*loc, key.replace("\x00", "\\u0000")), _NUL_MESSAGE, "string_nul")
            elif loc or key != "secret":  # never echo the secret, even a wrong one
                _placeholders(errors, item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _placeholders(errors, item, (*loc, index))
    elif isinstance(value, Decimal | float):
        problem = number_problem(value)
        if problem:
            errors.add(loc, problem, "finite_number")
    elif isinstance(value, str):
        found = _PLACEHOLDER.search(value)
        if "\x00" in value:
            errors.add(loc, _NUL_MESSAGE, "string_nul")
        elif found:
            errors.add(
                loc,
                f"Unreplaced placeholder {found.group(0)}: TradingView did not fill it in; "
                "check the placeholder's spelling in the alert message",
                "unreplaced_placeholder",
            )


def _section(errors: _Errors, data: dict, name: str, *, required: bool) -> dict | None:
    value = data.get(name, _MISSING)
    if value is _MISSING or value is None:
        if required:
            errors.add((name,), "Field required", "missing")
        return None
    if not isinstance(value, dict):
        errors.add((name,), "Input should be an object", "dict_type")
        return None
    return value


def _raw(section: dict | None, key: str) -> Any:
    if section is None:
        return _MISSING
    return section.get(key, _MISSING)


def _string(
    errors: _Errors,
    section: dict | None,
    loc: tuple,
    *,
    required: bool = False,
    default: str = "",
    choices: tuple[str, ...] | None = None,
    lower: bool = False,
    max_length: int | None = None,
    numbers_allowed: bool = False,
) -> str | None:
    value = _raw(section, loc[-1])
    if loc in errors.reported:
        return None
    if value is _MISSING or value is None:
        if required:
            errors.add(loc, "Field required", "missing")
            return None
        return default
    if numbers_allowed and isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        errors.add(loc, "Input should be a valid string", "string_type")
        return None
    value = value.strip()
    if lower:
        value = value.lower()
    if required and not value:
        errors.add(loc, "String should have at least 1 character", "string_too_short")
        return None
    if not value and choices is None:
        return default
    if choices is not None and value not in choices:
        allowed = ", ".join(f"'{choice}'" for choice in choices if choice)
        errors.add(loc, f"Input should be one of {allowed}", "literal_error")
        return None
    if max_length is not None and len(value) > max_length:
        errors.add(loc, f"String should have at most {max_length} characters", "string_too_long")
        return None
    return value


def _to_decimal(value: Any) -> Decimal | str:
    """A finite Decimal from a JSON number or numeric string, or the error message."""
    if isinstance(value, bool):
        return "Input should be a number or a numeric string, not a boolean"
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        return value if value.is_finite() else "Input should be a finite number"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "Input should be a finite number"
        return Decimal(repr(value))  # shortest repr: 0.1 stays 0.1, not 0.1000000000000000055…
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return "Input should be a number or a numeric string"
        if not number.is_finite():
            return "Input should be a finite number"
        return number
    return "Input should be a number or a numeric string"


def _decimal(
    errors: _Errors,
    section: dict | None,
    loc: tuple,
    *,
    required: bool = False,
    positive: bool = False,
    at_most: Decimal | None = None,
) -> Decimal | None:
    value = _raw(section, loc[-1])
    if loc in errors.reported:
        return None
    if value is _MISSING or value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.add(loc, "Field required", "missing")
        return None
    number = _to_decimal(value)
    if isinstance(number, str):
        errors.add(loc, number, "decimal_parsing")
        return None
    if positive and number <= 0:
        errors.add(loc, "Input should be greater than 0", "greater_than")
        return None
    if positive and number < SMALLEST_PRICE:
        errors.add(loc, "Input should be at least 0.000000000001", "greater_than_equal")
        return None
    if not positive and number < 0:
        errors.add(loc, "Input should be greater than or equal to 0", "greater_than_equal")
        return None
    if at_most is not None and number > at_most:
        errors.add(loc, f"Input should be at most {at_most}", "less_than_equal")
        return None
    if number >= MAX_NUMBER:
        errors.add(loc, "Input should be less than 10^16", "less_than")
        return None
    return number


def parse_timeframe(value: Any) -> int:
    """TradingView's ``{{interval}}`` in minutes: "15" → 15, "240", "1D"/"D" → 1440, "1W", "1M".

    Raises ValueError with a message a trader can act on.
    """
    accepted = 'use TradingView\'s {{interval}}: minutes like "15" or "240", or "1D", "1W", "1M"'
    if isinstance(value, bool):
        raise ValueError(f"Timeframe must be a number of minutes or an interval, not a boolean; {accepted}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        if not 1 <= value <= LONGEST_TIMEFRAME_MINUTES:  # compared before int(): 1e999999 has a million digits
            raise ValueError(f"Timeframe {value} is out of range: 1 minute to 12 months")
        value = int(value)
    if isinstance(value, int):
        multiplier, unit = value, ""
    elif isinstance(value, str):
        match = _TIMEFRAME.fullmatch(value.strip())
        if not match or match.group() == "":
            raise ValueError(f"Unknown timeframe {value!r}; {accepted}")
        multiplier = int(match.group(1)) if match.group(1) else 1
        unit = match.group(2)
        if unit in ("d", "w"):
            unit = unit.upper()
        if unit in ("S", "s"):
            raise ValueError(
                f"Seconds timeframe {value!r} is not supported: the engine trades charts of 1 minute or longer"
            )
        if unit not in MINUTES_PER_UNIT:
            raise ValueError(f"Unknown timeframe {value!r}; {accepted}")
    else:
        raise ValueError(f"Timeframe must be a number of minutes or an interval string; {accepted}")
    minutes = multiplier * MINUTES_PER_UNIT[unit]
    if not 1 <= minutes <= LONGEST_TIMEFRAME_MINUTES:
        raise ValueError(f"Timeframe {value!r} is out of range: 1 minute to 12 months")
    return minutes


def parse_timestamp(value: Any) -> datetime:
    """ISO-8601 (TradingView's ``{{timenow}}``, "2026-11-24T01:00:00Z") or epoch seconds/ms → aware UTC.

    A timestamp without a zone is read as UTC (``{{timenow}}`` is UTC). Raises ValueError.
    """
    if isinstance(value, bool):
        raise ValueError("Timestamp must be ISO-8601 or epoch seconds, not a boolean")
    if isinstance(value, str) and _EPOCH.fullmatch(value.strip()):
        value = float(value.strip())
    if isinstance(value, int | float | Decimal):
        if number_problem(value):
            raise ValueError("Timestamp must be a finite number")
        try:
            # Inside the try: a 4,000-digit integer overflows the float division itself.
            seconds = value / 1000 if abs(Decimal(value)) >= _EPOCH_MILLISECONDS_FROM else value
            return datetime.fromtimestamp(float(seconds), tz=UTC)
        except (ArithmeticError, OSError, ValueError):  # OverflowError and Decimal's own
            raise ValueError("Timestamp is out of range") from None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"Timestamp {value!r} is not ISO-8601 (like 2026-11-24T01:00:00Z); use TradingView's {{{{timenow}}}}"
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    raise ValueError("Timestamp must be an ISO-8601 string or epoch seconds")


def _position_side(direction: str | None) -> str | None:
    return {"buy": "long", "long": "long", "sell": "short", "short": "short"}.get(direction or "")


_T = TypeVar("_T")


def _parsed(
    errors: _Errors, section: dict | None, loc: tuple, parse: Callable[[Any], _T], error_type: str
) -> _T | None:
    """A required field that ``parse`` reads (a ValueError's message is the field's error)."""
    value = _raw(section, loc[-1])
    if loc in errors.reported:
        return None
    if value is _MISSING or value is None or value == "":
        errors.add(loc, "Field required", "missing")
        return None
    try:
        return parse(value)
    except ValueError as exc:
        errors.add(loc, str(exc), error_type)
        return None


def _validated(value: _T | None) -> _T:
    """A field that passed validation: the parsers answer None only where they reported an error,
    and any reported error has raised AlertInvalid before the alert is built."""
    if value is None:
        raise AssertionError("a validated alert field is None without a reported error")
    return value


def alert_side(*, intent: str, intent_side: str, market_position: str, prev_market_position: str) -> str:
    """The position side an alert is about (README "Signals to orders").

    signal/reverse: the side being opened. exit: the side being closed, which TradingView states as
    the previous market position. reduce: the position being reduced, still open afterwards
    (market_position) unless the reduce closed it (then prev_market_position).
    """
    candidates: list[str] = []
    if intent == "exit":
        candidates = [prev_market_position]
    elif intent == "reduce":
        candidates = [market_position, prev_market_position]
    for position in candidates:
        if position in Side.values:
            return position
    return _position_side(intent_side) or ""


def parse_alert(
    data: dict,
    *,
    now: datetime | None,
    replay_window_seconds: int,
    url_user_id: uuid.UUID | None = None,
) -> Alert:
    """Validate a decoded webhook body. Raises ``AlertInvalid`` listing every error.

    ``now=None`` skips the timestamp-age check (re-parsing a stored payload). ``url_user_id``, when
    given, must equal the body's ``user_id``.
    """
    errors = _Errors()
    if not isinstance(data, dict):
        raise AlertInvalid([{"loc": [], "msg": "Input should be a JSON object", "type": "dict_type"}])
    if json_depth_exceeds(data):
        raise AlertInvalid([{"loc": [], "msg": f"Nested deeper than {MAX_JSON_DEPTH} levels", "type": "too_deep"}])
    _placeholders(errors, data, ())

    user_id = None
    raw_user_id = data.get("user_id", _MISSING)
    if ("user_id",) in errors.reported:
        pass
    elif raw_user_id is _MISSING or raw_user_id is None:
        errors.add(("user_id",), "Field required", "missing")
    else:
        try:
            user_id = uuid.UUID(str(raw_user_id).strip()) if isinstance(raw_user_id, str) else None
        except ValueError:
            user_id = None
        if user_id is None:
            errors.add(("user_id",), "Input should be a valid UUID", "uuid_parsing")
        elif url_user_id is not None and user_id != url_user_id:
            errors.add(("user_id",), "user_id does not match the user of this webhook URL", "value_error")
            user_id = None

    source = _string(errors, data, ("source",), default=DEFAULT_SOURCE)

    timestamp = _parsed(errors, data, ("timestamp",), parse_timestamp, "datetime_parsing")
    if timestamp is not None and now is not None:
        window = timedelta(seconds=replay_window_seconds)
        age = now - timestamp
        if age > window:
            errors.add(
                ("timestamp",),
                f"Timestamp {timestamp:%Y-%m-%dT%H:%M:%SZ} is {age.total_seconds():.0f} s old, older than the "
                f"replay window of {replay_window_seconds} s: refused as a possible replay",
                "timestamp_too_old",
            )
            timestamp = None
        elif -age > window:
            errors.add(
                ("timestamp",),
                f"Timestamp {timestamp:%Y-%m-%dT%H:%M:%SZ} is {-age.total_seconds():.0f} s in the future, more "
                f"than the replay window of {replay_window_seconds} s: check the sender's clock",
                "timestamp_in_future",
            )
            timestamp = None

    tv = _section(errors, data, "tv", required=True)
    exchange = symbol = action = market_position = prev_market_position = None
    timeframe = None
    market_position_size = prev_market_position_size = entry_price = close_price = order_size = None
    if tv is not None:
        exchange = _string(errors, tv, ("tv", "exchange"), required=True, lower=True, max_length=MAX_EXCHANGE_LENGTH)
        symbol = _string(errors, tv, ("tv", "symbol"), required=True, max_length=MAX_SYMBOL_LENGTH)
        timeframe = _parsed(errors, tv, ("tv", "timeframe"), parse_timeframe, "timeframe_parsing")
        action = _string(errors, tv, ("tv", "action"), required=True, lower=True, choices=ACTIONS)
        market_position = _string(errors, tv, ("tv", "market_position"), lower=True, choices=MARKET_POSITIONS)
        prev_market_position = _string(errors, tv, ("tv", "prev_market_position"), lower=True, choices=MARKET_POSITIONS)
        market_position_size = _decimal(errors, tv, ("tv", "market_position_size"))
        prev_market_position_size = _decimal(errors, tv, ("tv", "prev_market_position_size"))
        entry_price = _decimal(errors, tv, ("tv", "entry_price"), required=True, positive=True)
        close_price = _decimal(errors, tv, ("tv", "close_price"), positive=True)
        order_size = _decimal(errors, tv, ("tv", "order_size"), positive=True)

    strategy = _section(errors, data, "strategy_info", required=False)
    trade_id = _string(errors, strategy, ("strategy_info", "trade_id"), numbers_allowed=True)
    alert_name = _string(errors, strategy, ("strategy_info", "alert_name"))
    alert_message = _string(errors, strategy, ("strategy_info", "alert_message"))

    execution = _section(errors, data, "execution_intent", required=True)
    intent = intent_side = position_size_type = precision_mode = account = None
    if execution is not None:
        account = _string(errors, execution, ("execution_intent", "account"), max_length=MAX_ACCOUNT_LENGTH)
        intent = _string(errors, execution, ("execution_intent", "type"), required=True, lower=True, choices=INTENTS)
        # auto reads the side from the strategy's position; a stated one is still checked.
        intent_side = _string(
            errors,
            execution,
            ("execution_intent", "side"),
            required=intent != AUTO,
            lower=True,
            choices=(*INTENT_SIDES, "") if intent == AUTO else INTENT_SIDES,
        )
        position_size_type = _string(
            errors,
            execution,
            ("execution_intent", "position_size_type"),
            lower=True,
            choices=(*POSITION_SIZE_TYPES, ""),
            default=DEFAULT_POSITION_SIZE_TYPE,
        )
        position_size_type = position_size_type or DEFAULT_POSITION_SIZE_TYPE
        precision_mode = (
            _string(
                errors,
                execution,
                ("execution_intent", "precision_mode"),
                lower=True,
                choices=(*PRECISION_MODES, ""),
                default="auto",
            )
            or "auto"
        )

    risk = _section(errors, data, "risk", required=False)
    max_slippage_percent = _decimal(errors, risk, ("risk", "max_slippage_percent"), at_most=Decimal(100))
    stop_loss = _decimal(errors, risk, ("risk", "stop_loss"), positive=True)
    take_profit = _decimal(errors, risk, ("risk", "take_profit"), positive=True)

    if intent == "reduce" and tv is not None and order_size is None and ("tv", "order_size") not in errors.reported:
        errors.add(
            ("tv", "order_size"), "A reduce alert needs tv.order_size: how much of the position to close", "missing"
        )

    derivation = None
    if intent == AUTO and tv is not None and market_position is not None and prev_market_position is not None:
        try:
            derivation = derive_intent(
                prev_market_position=prev_market_position,
                prev_market_position_size=prev_market_position_size,
                market_position=market_position,
                market_position_size=market_position_size,
                order_size=order_size,
            )
        except IntentUnclear as exc:
            if ("tv", exc.field) not in errors.reported:
                errors.add(("tv", exc.field), str(exc), "missing")

    if errors.items:
        raise AlertInvalid(errors.items)
    requested_intent = intent
    if derivation is not None:
        intent, order_size, position_size_type = derivation.intent, derivation.quantity, "contracts"
        side = derivation.side
    else:
        side = alert_side(
            intent=_validated(intent),
            intent_side=_validated(intent_side),
            market_position=_validated(market_position),
            prev_market_position=_validated(prev_market_position),
        )
    return Alert(
        user_id=_validated(user_id),
        source=_validated(source),
        timestamp=_validated(timestamp),
        exchange=_validated(exchange),
        tv_symbol=_validated(symbol),
        timeframe=_validated(timeframe),
        action=_validated(action),
        market_position=_validated(market_position),
        market_position_size=market_position_size,
        prev_market_position=_validated(prev_market_position),
        prev_market_position_size=prev_market_position_size,
        entry_price=_validated(entry_price),
        close_price=close_price,
        order_size=order_size,
        trade_id=_validated(trade_id),
        alert_name=_validated(alert_name),
        alert_message=_validated(alert_message),
        intent=_validated(intent),
        intent_side=_validated(intent_side),
        position_size_type=_validated(position_size_type),
        precision_mode=_validated(precision_mode),
        max_slippage_percent=max_slippage_percent,
        stop_loss=stop_loss,
        take_profit=take_profit,
        side=side,
        requested_intent=_validated(requested_intent),
        derivation=derivation,
        account=account or "",
    )


# --- The alert body a trader's TradingView alert sends ----------------------------------------------------

# The risk block of a new alert: half a percent of slippage, no stop or take-profit of the alert's own.
DEFAULT_ALERT_RISK = {"max_slippage_percent": 0.5, "stop_loss": None, "take_profit": None}


def alert_body(
    *,
    user_id,
    secret: str,
    timestamp: str,
    tv: dict,
    strategy_info: dict,
    execution_intent: dict,
    risk: dict | None = None,
) -> dict:
    """An alert body in the shape ``parse_alert`` reads (README "Webhook"), its keys in the README's order."""
    return {
        "user_id": str(user_id),
        "secret": secret,
        "source": "tradingview",
        "timestamp": timestamp,
        "tv": tv,
        "strategy_info": strategy_info,
        "execution_intent": execution_intent,
        "risk": dict(DEFAULT_ALERT_RISK) if risk is None else risk,
    }


def alert_template(user) -> str:
    """The TradingView alert message (the payload of README "Webhook") with this trader's id and secret filled
    in and TradingView's placeholders everywhere else: what the settings page gives the trader to paste."""
    payload = alert_body(
        user_id=user.pk,
        secret=user.webhook_secret,
        timestamp="{{timenow}}",
        tv={
            "exchange": "{{exchange}}",
            "symbol": "{{ticker}}",
            "timeframe": "{{interval}}",
            "action": "{{strategy.order.action}}",
            "market_position": "{{strategy.market_position}}",
            "market_position_size": "{{strategy.market_position_size}}",
            "prev_market_position": "{{strategy.prev_market_position}}",
            "prev_market_position_size": "{{strategy.prev_market_position_size}}",
            "entry_price": "{{strategy.order.price}}",
            "close_price": "{{close}}",
            "order_size": "{{strategy.order.contracts}}",
        },
        strategy_info={
            "trade_id": "{{strategy.order.id}}",
            "alert_name": "My strategy",
            "alert_message": "{{strategy.order.alert_message}}",
        },
        execution_intent={
            "type": "auto",
            "side": "{{strategy.order.action}}",
            "position_size_type": "contracts",
            "precision_mode": "auto",
            # Which exchange account trades it: empty picks from the ticker (a .P chart → your swap account on
            # the exchange, a plain one → your spot account, or your only account there); an account's label
            # picks that account (README "Exchanges": "Which account an alert trades").
            "account": "",
        },
    )
    return json.dumps(payload, indent=2)
