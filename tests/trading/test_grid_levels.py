"""DCA ladder validation (pure, no database)."""

from decimal import Decimal

import pytest

from tests.factories import WALKTHROUGH_LEVELS
from trading.grid import LevelsError, parse_levels, parse_pyramid_levels, parse_pyramid_tp_percents


def test_walkthrough_ladder_parses_to_decimals():
    levels = parse_levels(WALKTHROUGH_LEVELS)

    assert [level.gap_percent for level in levels] == [Decimal(g) for g in ("0", "-0.5", "-1", "-1.5", "-2")]
    assert sum(level.weight_percent for level in levels) == Decimal(100)


def test_numbers_may_be_json_numbers_or_numeric_strings():
    levels = parse_levels(
        [
            {"gap_percent": 0, "weight_percent": "60", "tp_percent": 1.5},
            {"gap_percent": "-1", "weight_percent": 40, "tp_percent": "2"},
        ]
    )

    assert levels[0].tp_percent == Decimal("1.5")


def test_weights_not_summing_to_100_name_the_actual_sum():
    with pytest.raises(LevelsError, match="sum to 100; they sum to 90"):
        parse_levels(
            [
                {"gap_percent": 0, "weight_percent": 50, "tp_percent": 1},
                {"gap_percent": -1, "weight_percent": 40, "tp_percent": 1},
            ]
        )


def test_float_weights_are_summed_exactly():
    # 33.3 + 33.3 + 33.4 is exactly 100 in decimal, but not in binary floating point.
    parse_levels([{"gap_percent": -i, "weight_percent": w, "tp_percent": 1} for i, w in enumerate((33.3, 33.3, 33.4))])


@pytest.mark.parametrize(
    "raw,message",
    [
        ([], "at least one level"),
        ("not a list", "at least one level"),
        ([{"gap_percent": "abc", "weight_percent": 100, "tp_percent": 1}], "gap_percent must be a number"),
        ([{"gap_percent": True, "weight_percent": 100, "tp_percent": 1}], "must be a number"),
        ([{"gap_percent": "NaN", "weight_percent": 100, "tp_percent": 1}], "finite"),
        ([{"gap_percent": 0, "weight_percent": 100}], "missing tp_percent"),
        ([{"gap_percent": 0, "weight_percent": 100, "tp_percent": 1, "size": 3}], "unknown field size"),
        ([{"gap_percent": 0, "weight_percent": 100, "tp_percent": 0}], "tp_percent must be positive"),
        ([{"gap_percent": -100, "weight_percent": 100, "tp_percent": 1}], "above -100"),
        (
            [
                {"gap_percent": 0, "weight_percent": -10, "tp_percent": 1},
                {"gap_percent": 0, "weight_percent": 110, "tp_percent": 1},
            ],
            "weight_percent must be positive",
        ),
        ([7], "must be an object"),
    ],
)
def test_invalid_ladders_say_what_to_fix(raw, message):
    with pytest.raises(LevelsError, match=message):
        parse_levels(raw)


def test_pyramid_overrides_are_keyed_by_a_pyramid_index_within_the_limit():
    parsed = parse_pyramid_levels({"1": WALKTHROUGH_LEVELS}, max_pyramids=3)
    assert list(parsed) == [1]

    with pytest.raises(LevelsError, match="pyramid index 5 is outside 0 to 2"):
        parse_pyramid_levels({"5": WALKTHROUGH_LEVELS}, max_pyramids=3)
    with pytest.raises(LevelsError, match=r"pyramid_levels\[1\]: weight_percent must sum to 100; they sum to 20"):
        parse_pyramid_levels({"1": WALKTHROUGH_LEVELS[:1]}, max_pyramids=3)


def test_pyramid_tp_percents_must_be_positive_numbers():
    assert parse_pyramid_tp_percents({"0": 2.0, "1": "1.5"}, max_pyramids=5) == {0: Decimal("2.0"), 1: Decimal("1.5")}
    with pytest.raises(LevelsError, match="must be positive"):
        parse_pyramid_tp_percents({"0": 0}, max_pyramids=5)
