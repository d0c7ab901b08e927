"""A DCA configuration's leverage and margin mode: bounds, and the refusal of a ladder whose deepest leg
lies beyond the estimated liquidation price (trading.liquidation), unless explicitly allowed."""

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from tests.factories import DCAConfigurationFactory, UserFactory

pytestmark = pytest.mark.django_db

# 50 % at the entry, 50 % 10 % against it: at 20× the liquidation with both filled is 9.64 % away
# (tests/trading/test_liquidation.py works it out), so the second leg lies beyond it.
WIDE = [
    {"gap_percent": 0, "weight_percent": 50, "tp_percent": 2},
    {"gap_percent": -10, "weight_percent": 50, "tp_percent": 2},
]


def test_defaults_are_1x_isolated_and_a_spot_style_ladder_is_accepted():
    config = DCAConfigurationFactory.build(user=UserFactory(), levels=WIDE)
    config.full_clean()
    assert (config.leverage, config.margin_mode, config.allow_legs_beyond_liquidation) == (1, "isolated", False)


@pytest.mark.parametrize("leverage", [0, 126])
def test_leverage_outside_1_to_125_is_refused_with_the_range(leverage):
    config = DCAConfigurationFactory.build(user=UserFactory(), leverage=leverage)
    with pytest.raises(ValidationError) as error:
        config.full_clean()
    assert "from 1 to 125" in " ".join(error.value.message_dict["leverage"])


def test_a_ladder_beyond_liquidation_is_refused_with_the_numbers():
    config = DCAConfigurationFactory.build(user=UserFactory(), levels=WIDE, leverage=20)

    with pytest.raises(ValidationError) as error:
        config.full_clean()

    [long_refusal, short_refusal] = error.value.message_dict[NON_FIELD_ERRORS]
    assert long_refusal.startswith("levels: leg 1 of a long (gap -10%, 10.00% below the entry)")
    assert "liquidation price, 9.64% below the entry with every leg filled" in long_refusal
    assert "leverage 20×, isolated margin" in long_refusal
    assert "allow_legs_beyond_liquidation" in long_refusal
    # A short's second leg is 10 % above; liquidation 110/1.004 → 9.56 % above.
    assert "leg 1 of a short (gap -10%, 10.00% above the entry)" in short_refusal
    assert "9.56% above the entry" in short_refusal


def test_the_same_ladder_at_5x_is_accepted():
    DCAConfigurationFactory.build(user=UserFactory(), levels=WIDE, leverage=5).full_clean()


def test_a_pyramid_override_is_checked_as_its_own_pyramid():
    config = DCAConfigurationFactory.build(
        user=UserFactory(),
        levels=[{"gap_percent": 0, "weight_percent": 100, "tp_percent": 2}],
        pyramid_levels={"1": WIDE},
        leverage=20,
        margin_mode="cross",
    )
    with pytest.raises(ValidationError) as error:
        config.full_clean()
    refusals = error.value.message_dict[NON_FIELD_ERRORS]
    assert all(refusal.startswith("pyramid_levels[1]: ") for refusal in refusals)
    assert "cross margin" in refusals[0]


def test_the_override_keeps_the_ladder_and_saves():
    config = DCAConfigurationFactory.build(
        user=UserFactory(), levels=WIDE, leverage=20, allow_legs_beyond_liquidation=True
    )
    config.full_clean()
    config.save()
    config.refresh_from_db()
    assert (config.leverage, config.allow_legs_beyond_liquidation) == (20, True)
