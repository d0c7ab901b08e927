"""Alert payload validation (pure, no database): what a TradingView alert must look like."""

import copy
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.alert_bodies import alert_body, overridden
from trading.alerts import (
    AlertInvalid,
    json_depth_exceeds,
    json_number,
    parse_alert,
    parse_timeframe,
    parse_timestamp,
)

NOW = datetime(2026, 11, 24, 1, 0, 30, tzinfo=UTC)
USER_ID = uuid.UUID("6f1c1f0e-3f43-4a4e-9d55-3c1b7c0b7a01")


def payload(**sections) -> dict:
    """A complete alert as TradingView sends it (numbers as strings, like the placeholders give), at a fixed time."""
    body = alert_body(
        user_id=USER_ID,
        secret="s3cret-s3cret-s3cret",
        timestamp="2026-11-24T01:00:00Z",
        tv={"close_price": "60010"},
        strategy_info={"trade_id": "L1"},
    )
    return overridden(body, **sections)


def parse(body: dict, **kwargs):
    kwargs.setdefault("now", NOW)
    kwargs.setdefault("replay_window_seconds", 600)
    return parse_alert(body, **kwargs)


def errors_of(body: dict, **kwargs) -> list[dict]:
    with pytest.raises(AlertInvalid) as caught:
        parse(body, **kwargs)
    return caught.value.errors


def locs(errors: list[dict]) -> list[list]:
    return [error["loc"] for error in errors]


def test_a_complete_alert_becomes_plain_values_the_router_can_use():
    alert = parse(payload())

    assert alert.user_id == USER_ID
    assert alert.source == "tradingview"
    assert alert.timestamp == datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    assert alert.exchange == "binance"  # lower-cased: names the user's exchange account
    assert alert.tv_symbol == "BTCUSDT"
    assert alert.timeframe == 15
    assert alert.action == "buy"
    assert (alert.market_position, alert.prev_market_position) == ("long", "flat")
    assert alert.market_position_size == Decimal("0.01")
    assert alert.prev_market_position_size == Decimal("0")
    assert alert.entry_price == Decimal("60000.5")
    assert alert.close_price == Decimal("60010")
    assert alert.order_size == Decimal("0.01")
    assert (alert.trade_id, alert.alert_name, alert.alert_message) == ("L1", "BTC long", "entry")
    assert (alert.intent, alert.intent_side, alert.side) == ("signal", "buy", "long")
    assert (alert.position_size_type, alert.precision_mode) == ("base", "auto")
    assert alert.max_slippage_percent == Decimal("0.5")
    assert alert.stop_loss is None and alert.take_profit is None


def test_execution_intent_account_names_the_account_to_trade():
    assert parse(payload()).account == ""  # left out: chosen from the ticker
    assert parse(payload(execution_intent={"account": " perp "})).account == "perp"
    assert parse(payload(execution_intent={"account": ""})).account == ""  # the settings page's template


@pytest.mark.parametrize(
    "account,message",
    [("x" * 101, "String should have at most 100 characters"), (7, "Input should be a valid string")],
)
def test_execution_intent_account_is_a_label(account, message):
    [error] = errors_of(payload(execution_intent={"account": account}))
    assert (error["loc"], error["msg"]) == (["execution_intent", "account"], message)


def test_the_alert_is_frozen():
    alert = parse(payload())

    with pytest.raises(AttributeError):
        alert.entry_price = Decimal("1")


def test_numbers_may_be_json_numbers_or_numeric_strings_and_stay_exact():
    alert = parse(
        payload(
            tv={"entry_price": 0.1, "close_price": "  64000.25 ", "order_size": 3},
            risk={"stop_loss": "59000", "take_profit": 70000.5},
        )
    )

    assert alert.entry_price == Decimal("0.1")  # not 0.1000000000000000055…
    assert alert.close_price == Decimal("64000.25")
    assert alert.order_size == Decimal("3")
    assert (alert.stop_loss, alert.take_profit) == (Decimal("59000"), Decimal("70000.5"))


@pytest.mark.parametrize("bad", [True, "NaN", "Infinity", "-inf", "abc", "1,5", [1], {"v": 1}])
def test_booleans_nan_infinity_and_non_numbers_are_refused_as_prices(bad):
    errors = errors_of(payload(tv={"entry_price": bad}))

    assert locs(errors) == [["tv", "entry_price"]]
    assert errors[0]["type"] == "decimal_parsing"


@pytest.mark.parametrize("field", ["entry_price", "close_price"])
@pytest.mark.parametrize("price", ["0", "-1", 0, -0.5])
def test_prices_must_be_above_zero(field, price):
    errors = errors_of(payload(tv={field: price}))

    assert errors == [{"loc": ["tv", field], "msg": "Input should be greater than 0", "type": "greater_than"}]


def test_numbers_a_money_column_cannot_hold_are_refused_not_left_to_the_database():
    errors = errors_of(payload(tv={"entry_price": "1e17", "close_price": "1e-13"}))

    assert sorted(locs(errors)) == [["tv", "close_price"], ["tv", "entry_price"]]
    assert parse(payload(tv={"entry_price": "0.00000001"})).entry_price == Decimal("0.00000001")  # 1 satoshi


@pytest.mark.parametrize(
    ("sent", "minutes"),
    [
        ("1", 1),
        ("15", 15),
        ("240", 240),
        (60, 60),
        (15.0, 15),
        ("1D", 1440),
        ("D", 1440),
        ("2D", 2880),
        ("1W", 10080),
        ("W", 10080),
        ("1M", 43200),
        ("3M", 129600),
        ("12M", 518400),
    ],
)
def test_tradingview_interval_values_are_stored_as_minutes(sent, minutes):
    assert parse(payload(tv={"timeframe": sent})).timeframe == minutes
    assert parse_timeframe(sent) == minutes


@pytest.mark.parametrize("sent", ["30S", "1S", "15s"])
def test_seconds_timeframes_are_refused_with_a_clear_message(sent):
    errors = errors_of(payload(tv={"timeframe": sent}))

    assert locs(errors) == [["tv", "timeframe"]]
    assert "Seconds timeframe" in errors[0]["msg"] and "not supported" in errors[0]["msg"]


@pytest.mark.parametrize("sent", ["0", 0, -15, "1m", "1H", "15.5", "abc", True, "13M", 15.5])
def test_unknown_or_out_of_range_timeframes_are_refused(sent):
    errors = errors_of(payload(tv={"timeframe": sent}))

    assert locs(errors) == [["tv", "timeframe"]]
    assert errors[0]["type"] == "timeframe_parsing"


def test_a_missing_field_reports_field_required_at_its_location():
    body = payload()
    del body["tv"]["symbol"]

    assert errors_of(body) == [{"loc": ["tv", "symbol"], "msg": "Field required", "type": "missing"}]


def test_every_required_field_is_reported_at_once():
    body = {"secret": "x", "tv": {}, "execution_intent": {}}

    assert sorted(locs(errors_of(body))) == sorted(
        [
            ["user_id"],
            ["timestamp"],
            ["tv", "exchange"],
            ["tv", "symbol"],
            ["tv", "timeframe"],
            ["tv", "action"],
            ["tv", "entry_price"],
            ["execution_intent", "type"],
            ["execution_intent", "side"],
        ]
    )


def test_missing_sections_are_reported_once_each():
    body = payload()
    del body["tv"], body["execution_intent"]

    assert sorted(locs(errors_of(body))) == [["execution_intent"], ["tv"]]


def test_all_errors_are_reported_not_just_the_first():
    body = payload(
        tv={"timeframe": "30S", "entry_price": "-1", "action": "hold"},
        execution_intent={"type": "open", "side": "up"},
        risk={"stop_loss": True},
    )

    assert sorted(locs(errors_of(body))) == sorted(
        [
            ["tv", "timeframe"],
            ["tv", "entry_price"],
            ["tv", "action"],
            ["execution_intent", "type"],
            ["execution_intent", "side"],
            ["risk", "stop_loss"],
        ]
    )


def test_optional_fields_may_be_left_out():
    body = payload()
    for field in (
        "market_position",
        "market_position_size",
        "prev_market_position",
        "prev_market_position_size",
        "close_price",
        "order_size",
    ):
        del body["tv"][field]
    del body["strategy_info"], body["risk"], body["source"]
    del body["execution_intent"]["position_size_type"], body["execution_intent"]["precision_mode"]

    alert = parse(body)

    assert alert.source == "tradingview"
    assert alert.order_size is None and alert.close_price is None and alert.max_slippage_percent is None
    assert (alert.trade_id, alert.alert_name, alert.alert_message) == ("", "", "")
    # The template's order_size is {{strategy.order.contracts}}: without a stated type, contracts.
    assert alert.position_size_type == "contracts"
    assert alert.precision_mode == "auto"
    assert (alert.market_position, alert.prev_market_position) == ("", "")


def test_flat_and_empty_market_positions_are_fine():
    alert = parse(payload(tv={"market_position": "flat", "prev_market_position": "", "market_position_size": ""}))

    assert (alert.market_position, alert.prev_market_position, alert.market_position_size) == ("flat", "", None)


@pytest.mark.parametrize(
    ("section", "field", "value"),
    [
        ("execution_intent", "type", "open"),
        ("execution_intent", "side", "up"),
        ("execution_intent", "position_size_type", "usd"),
        ("execution_intent", "precision_mode", "exact"),
        ("tv", "action", "hold"),
        ("tv", "market_position", "sideways"),
    ],
)
def test_enumerated_values_are_checked(section, field, value):
    errors = errors_of(payload(**{section: {field: value}}))

    assert locs(errors) == [[section, field]]
    assert errors[0]["type"] == "literal_error"


def test_enumerated_values_are_read_without_regard_to_case():
    alert = parse(payload(tv={"action": "BUY"}, execution_intent={"type": "Signal", "side": "Long"}))

    assert (alert.action, alert.intent, alert.intent_side) == ("buy", "signal", "long")


def test_an_unreplaced_placeholder_anywhere_is_refused_at_its_location():
    body = payload(tv={"symbol": "{{ticker}}"}, strategy_info={"alert_message": "close {{plot_0}} now"})
    body["extra"] = {"notes": ["fine", "{{strategy.order.comment}}"]}

    errors = errors_of(body)

    assert sorted(locs(errors)) == sorted([["tv", "symbol"], ["strategy_info", "alert_message"], ["extra", "notes", 1]])
    assert all(error["msg"].startswith("Unreplaced placeholder") for error in errors)
    assert {error["type"] for error in errors} == {"unreplaced_placeholder"}


def test_a_placeholder_in_a_number_field_is_reported_once_as_a_placeholder():
    errors = errors_of(payload(tv={"entry_price": "{{strategy.order.price}}", "timeframe": "{{interval}}"}))

    assert sorted(locs(errors)) == [["tv", "entry_price"], ["tv", "timeframe"]]
    assert all(error["msg"].startswith("Unreplaced placeholder {{") for error in errors)


def test_the_secret_is_never_echoed_even_with_braces():
    errors = errors_of(payload(secret="{{secret}}", tv={"symbol": "{{ticker}}"}))

    assert locs(errors) == [["tv", "symbol"]]


def test_user_id_must_be_a_uuid_and_match_the_url():
    assert locs(errors_of(payload(user_id="trader1"))) == [["user_id"]]

    errors = errors_of(payload(), url_user_id=uuid.uuid4())

    assert errors == [
        {"loc": ["user_id"], "msg": "user_id does not match the user of this webhook URL", "type": "value_error"}
    ]


@pytest.mark.parametrize(
    "sent",
    [
        "2026-11-24T01:00:00Z",
        "2026-11-24T01:00:00+00:00",
        "2026-11-24T02:00:00+01:00",
        "2026-11-24T01:00:00",
        "2026-11-24T01:00:00.000Z",
        1795482000,
        1795482000000,
        "1795482000",
        1795482000.0,
    ],
)
def test_timestamps_iso_8601_or_epoch_seconds_or_milliseconds(sent):
    assert parse(payload(timestamp=sent)).timestamp == datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    assert parse_timestamp(sent).tzinfo == UTC


@pytest.mark.parametrize("sent", ["yesterday", "24/11/2026", True, [], "", None])
def test_unreadable_timestamps_are_refused(sent):
    assert locs(errors_of(payload(timestamp=sent))) == [["timestamp"]]


def test_a_timestamp_older_than_the_replay_window_is_refused():
    sent = (NOW - timedelta(seconds=601)).isoformat()

    errors = errors_of(payload(timestamp=sent))

    assert locs(errors) == [["timestamp"]]
    assert errors[0]["type"] == "timestamp_too_old"
    assert "replay window of 600 s" in errors[0]["msg"]
    # Just inside the window is fine, and the window is the user's own.
    assert parse(payload(timestamp=(NOW - timedelta(seconds=599)).isoformat())).timestamp
    assert locs(errors_of(payload(timestamp=(NOW - timedelta(seconds=61)).isoformat()), replay_window_seconds=60))


def test_a_timestamp_further_in_the_future_than_the_window_is_refused():
    errors = errors_of(payload(timestamp=(NOW + timedelta(seconds=601)).isoformat()))

    assert errors[0]["type"] == "timestamp_in_future"
    assert parse(payload(timestamp=(NOW + timedelta(seconds=30)).isoformat()))  # a little clock skew is fine


def test_without_now_the_age_of_the_timestamp_is_not_checked():
    """The router re-parses a stored payload (no secret) long after it arrived."""
    body = payload(timestamp="2020-01-01T00:00:00Z")
    del body["secret"]

    assert parse_alert(body, now=None, replay_window_seconds=600).timestamp.year == 2020


@pytest.mark.parametrize(
    ("intent", "side", "market_position", "prev_market_position", "expected"),
    [
        ("signal", "buy", "long", "flat", "long"),
        ("signal", "long", "", "", "long"),
        ("signal", "sell", "short", "flat", "short"),
        ("reverse", "short", "short", "long", "short"),
        ("reverse", "buy", "long", "short", "long"),
        # exit: the side being exited is the previous position, whatever the order's direction…
        ("exit", "sell", "flat", "long", "long"),
        ("exit", "buy", "flat", "short", "short"),
        # …and when TradingView does not say, the intent's side maps to it.
        ("exit", "long", "flat", "flat", "long"),
        ("exit", "sell", "", "", "short"),
        # reduce: the position still open, else the one just closed, else the intent's side.
        ("reduce", "sell", "long", "long", "long"),
        ("reduce", "sell", "flat", "long", "long"),
        ("reduce", "buy", "flat", "flat", "long"),
        ("reduce", "short", "", "", "short"),
    ],
)
def test_the_side_is_the_position_the_alert_is_about(intent, side, market_position, prev_market_position, expected):
    alert = parse(
        payload(
            tv={"market_position": market_position, "prev_market_position": prev_market_position},
            execution_intent={"type": intent, "side": side},
        )
    )

    assert alert.side == expected


def test_a_reduce_must_say_how_much():
    body = payload(execution_intent={"type": "reduce", "side": "sell"})
    del body["tv"]["order_size"]

    errors = errors_of(body)

    assert locs(errors) == [["tv", "order_size"]]
    assert "reduce" in errors[0]["msg"]


def test_wrong_types_are_reported_by_type():
    errors = errors_of(payload(tv={"symbol": 123, "exchange": ""}, strategy_info="oops"))

    assert sorted((e["loc"], e["type"]) for e in errors) == sorted(
        [
            (["tv", "symbol"], "string_type"),
            (["tv", "exchange"], "string_too_short"),
            (["strategy_info"], "dict_type"),
        ]
    )


def test_over_long_exchange_or_symbol_is_refused_before_the_database_would():
    errors = errors_of(payload(tv={"exchange": "x" * 33, "symbol": "S" * 65}))

    assert sorted(locs(errors)) == [["tv", "exchange"], ["tv", "symbol"]]


def test_a_numeric_trade_id_is_kept_as_text():
    assert parse(payload(strategy_info={"trade_id": 42})).trade_id == "42"


def test_slippage_is_a_percentage_and_stops_are_prices():
    errors = errors_of(payload(risk={"max_slippage_percent": 150, "stop_loss": "0", "take_profit": -5}))

    assert sorted(locs(errors)) == [["risk", "max_slippage_percent"], ["risk", "stop_loss"], ["risk", "take_profit"]]


def test_input_is_not_modified():
    body = payload()
    before = copy.deepcopy(body)

    parse(body)

    assert body == before


def test_a_body_that_is_not_an_object_is_refused():
    with pytest.raises(AlertInvalid) as caught:
        parse_alert(["not", "an", "object"], now=NOW, replay_window_seconds=600)

    assert caught.value.errors[0]["type"] == "dict_type"


# --- parsed numbers and depth (issue 14) ------------------------------------------------------------


def decoded(text: str):
    """A body as the webhook decodes it: fractions and exponents as Decimal, NaN/Infinity too."""
    return json.loads(text, parse_float=json_number, parse_constant=Decimal)


def test_json_numbers_are_exact_decimals_and_an_unholdable_exponent_is_nan():
    numbers = decoded("[0.1, 1e999999, 1e99999999999999999999999999, NaN, -Infinity]")

    assert numbers[:2] == [Decimal("0.1"), Decimal("1E+999999")]
    assert all(not number.is_finite() for number in numbers[2:])


@pytest.mark.parametrize(
    ("section", "field", "literal"),
    [
        ("tv", "entry_price", "1e999999"),
        ("tv", "entry_price", "NaN"),
        ("tv", "order_size", "Infinity"),
        ("risk", "stop_loss", "-Infinity"),
        ("tv", "timeframe", "1e999999"),
        ("tv", "close_price", "1e400"),
    ],
)
def test_a_non_finite_or_overflowing_number_is_an_error_at_its_field(section, field, literal):
    body = decoded(json.dumps(payload(**{section: {field: "__N__"}})).replace('"__N__"', literal))

    errors = errors_of(body)

    assert locs(errors) == [[section, field]]
    assert errors[0]["msg"].startswith("Input should be a finite number")


def test_a_non_finite_number_in_a_field_the_engine_ignores_is_still_refused():
    body = decoded(json.dumps(payload(notes={"bars": ["__N__"]})).replace('"__N__"', "1e999999"))

    assert locs(errors_of(body)) == [["notes", "bars", 0]]


def test_timestamps_given_as_absurd_numbers_are_out_of_range_not_a_crash():
    for value in (Decimal("1E+999999"), 10**4000, -(10**4000)):
        with pytest.raises(ValueError):
            parse_timestamp(value)


def test_decimal_numbers_parse_like_floats_did():
    body = decoded(json.dumps(payload(tv={"entry_price": 60000.25, "timeframe": 240.0, "order_size": 1})))

    alert = parse(body)

    assert (alert.entry_price, alert.timeframe, alert.order_size) == (Decimal("60000.25"), 240, Decimal(1))


def test_a_payload_nested_deeper_than_32_levels_is_refused_before_any_walk():
    deep = payload()
    deep["notes"] = inner = []
    for _ in range(5_000):  # far past Python's recursion limit
        inner.append([])
        inner = inner[0]

    with pytest.raises(AlertInvalid) as caught:
        parse(deep)

    assert caught.value.errors == [{"loc": [], "msg": "Nested deeper than 32 levels", "type": "too_deep"}]
    assert json_depth_exceeds(deep) and not json_depth_exceeds(payload())
