"""DCA levels: parsing and validation of a configuration's ladder.

Pure: plain values in, plain values out, no ORM. A ladder is a list of levels, each with the gap
from the pyramid's entry price, the share of the pyramid's capital and the leg's take-profit.
"""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from exchanges.enums import OrderSide
from exchanges.numbers import round_to_step, round_to_tick
from trading.vocabulary import Side

HUNDRED = Decimal(100)
LEVEL_FIELDS = ("gap_percent", "weight_percent", "tp_percent")


class LevelsError(ValueError):
    """The ladder is invalid; ``messages`` says what to fix, one line each."""

    def __init__(self, messages: list[str]):
        super().__init__("; ".join(messages))
        self.messages = messages


@dataclass(frozen=True)
class DcaLevel:
    gap_percent: Decimal  # negative = below entry for longs, above for shorts
    weight_percent: Decimal  # share of the pyramid's capital
    tp_percent: Decimal  # the leg's take-profit distance from its fill

    def as_json(self) -> dict[str, str]:
        return {name: str(getattr(self, name)) for name in LEVEL_FIELDS}


def to_decimal(value, what: str) -> Decimal:
    """A JSON number or numeric string as a finite Decimal; ValueError names ``what`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise ValueError(f"{what} must be a number, got {value!r}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{what} must be a number, got {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return number


def parse_levels(raw, where: str = "levels") -> list[DcaLevel]:
    """Validate a ladder: at least one level, numbers only, weights summing to exactly 100."""
    if not isinstance(raw, list) or not raw:
        raise LevelsError([f"{where}: add at least one level ({{gap_percent, weight_percent, tp_percent}})"])
    errors: list[str] = []
    levels: list[DcaLevel] = []
    for position, item in enumerate(raw, start=1):
        label = f"{where} level {position}"
        if not isinstance(item, dict):
            errors.append(f"{label}: must be an object with {', '.join(LEVEL_FIELDS)}")
            continue
        missing = [name for name in LEVEL_FIELDS if name not in item]
        unknown = sorted(set(item) - set(LEVEL_FIELDS))
        if missing:
            errors.append(f"{label}: missing {', '.join(missing)}")
        if unknown:
            errors.append(f"{label}: unknown field {', '.join(unknown)}")
        if missing or unknown:
            continue
        try:
            gap, weight, tp = (to_decimal(item[name], f"{label} {name}") for name in LEVEL_FIELDS)
        except ValueError as exc:
            errors.append(str(exc))
            continue
        if gap <= -HUNDRED:
            errors.append(f"{label}: gap_percent must be above -100 (got {gap})")
        if weight <= 0:
            errors.append(f"{label}: weight_percent must be positive (got {weight})")
        if tp <= 0:
            errors.append(f"{label}: tp_percent must be positive (got {tp})")
        levels.append(DcaLevel(gap, weight, tp))
    if not errors:
        total = sum((level.weight_percent for level in levels), Decimal(0))
        if total != HUNDRED:
            errors.append(f"{where}: weight_percent must sum to 100; they sum to {total.normalize():f}")
    if errors:
        raise LevelsError(errors)
    return levels


def parse_pyramid_levels(raw, max_pyramids: int) -> dict[int, list[DcaLevel]]:
    """Per-pyramid ladder overrides keyed by pyramid index ("1", "2", …)."""
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        raise LevelsError(['pyramid_levels: must be an object like {"1": [levels…]}'])
    errors: list[str] = []
    parsed: dict[int, list[DcaLevel]] = {}
    for key, ladder in raw.items():
        index = _pyramid_index(key, max_pyramids, "pyramid_levels", errors)
        if index is None:
            continue
        try:
            parsed[index] = parse_levels(ladder, where=f"pyramid_levels[{key}]")
        except LevelsError as exc:
            errors.extend(exc.messages)
    if errors:
        raise LevelsError(errors)
    return parsed


def parse_pyramid_tp_percents(raw, max_pyramids: int) -> dict[int, Decimal]:
    """Per-pyramid aggregate take-profit percents keyed by pyramid index ("0", "1", …)."""
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        raise LevelsError(['pyramid_tp_percents: must be an object like {"0": 2.0}'])
    errors: list[str] = []
    parsed: dict[int, Decimal] = {}
    for key, value in raw.items():
        index = _pyramid_index(key, max_pyramids, "pyramid_tp_percents", errors)
        if index is None:
            continue
        try:
            percent = to_decimal(value, f"pyramid_tp_percents[{key}]")
        except ValueError as exc:
            errors.append(str(exc))
            continue
        if percent <= 0:
            errors.append(f"pyramid_tp_percents[{key}]: must be positive (got {percent})")
        parsed[index] = percent
    if errors:
        raise LevelsError(errors)
    return parsed


def _pyramid_index(key, max_pyramids: int, where: str, errors: list[str]) -> int | None:
    try:
        index = int(str(key))
    except ValueError:
        errors.append(f"{where}: key {key!r} must be a pyramid index (0 to {max_pyramids - 1})")
        return None
    if not 0 <= index < max_pyramids:
        errors.append(
            f"{where}: pyramid index {index} is outside 0 to {max_pyramids - 1} (max_pyramids is {max_pyramids})"
        )
        return None
    return index


# --- Grid maths -------------------------------------------------------------------------------


class GridError(ValueError):
    """A planned leg breaks the exchange's limits; the message names the leg and the limit."""


@dataclass(frozen=True)
class Precision:
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal = Decimal(0)
    min_notional: Decimal = Decimal(0)


@dataclass(frozen=True)
class PlannedLeg:
    leg_index: int
    price: Decimal
    quantity: Decimal
    gap_percent: Decimal
    weight_percent: Decimal
    tp_percent: Decimal
    tp_price: Decimal  # planned: from the leg's own price

    @property
    def notional(self) -> Decimal:
        return self.price * self.quantity


def round_price(order_side: str, price: Decimal, tick: Decimal) -> Decimal:
    """A price on the tick, to the trader's safe side: a buy rounds down (never pays more than
    planned), a sell rounds up (never sells for less). The one rounding rule for every limit price
    the engine plans (entry legs and take-profits, long and short)."""
    return round_to_tick(price, tick, up=order_side != OrderSide.BUY)


def leg_price(side: str, base_price: Decimal, gap_percent: Decimal, tick: Decimal) -> Decimal:
    """Long: base × (1 + gap/100), a buy; short: base × (1 − gap/100), a sell; ``round_price``."""
    factor = 1 + gap_percent / HUNDRED if side == Side.LONG else 1 - gap_percent / HUNDRED
    return round_price(OrderSide.BUY if side == Side.LONG else OrderSide.SELL, base_price * factor, tick)


def take_profit_price(side: str, fill_price: Decimal, tp_percent: Decimal, tick: Decimal) -> Decimal:
    """Long: fill × (1 + tp/100), a sell rounded up; short: fill × (1 − tp/100), a buy rounded down.

    Rounding away from the fill keeps a take-profit strictly beyond it for any positive tp_percent
    (rounding a long's down made a 0.1 % target on 0.00000987 at tick 1e-8 equal to its fill).
    """
    factor = 1 + tp_percent / HUNDRED if side == Side.LONG else 1 - tp_percent / HUNDRED
    return round_price(OrderSide.SELL if side == Side.LONG else OrderSide.BUY, fill_price * factor, tick)


def sellable(
    quantity: Decimal, *, price: Decimal | None, step: Decimal, min_qty: Decimal, min_notional: Decimal
) -> Decimal:
    """What of ``quantity`` one order can close: rounded down to the step, or zero when that is under
    the market's minimum quantity or (at ``price``) its minimum notional. Zero means dust."""
    quantity = round_to_step(max(quantity, Decimal(0)), step)
    if quantity <= 0 or quantity < min_qty or (price is not None and quantity * price < min_notional):
        return Decimal(0)
    return quantity


def plan_grid(
    *, side: str, base_price: Decimal, levels: list[DcaLevel], capital: Decimal, precision: Precision
) -> list[PlannedLeg]:
    """One pyramid's DCA grid: a leg per level with its price, quantity and planned take-profit.

    qty = capital × weight / price, rounded down to the step; a leg under the exchange's minimum
    quantity or notional raises GridError (nothing is placed: the trader fixes capital or ladder).
    """
    if base_price <= 0:
        raise GridError(f"Entry price must be positive, got {base_price}.")
    legs = []
    for index, level in enumerate(levels):
        price = leg_price(side, base_price, level.gap_percent, precision.tick_size)
        if price <= 0:
            raise GridError(f"Leg {index}: gap {level.gap_percent}% puts the price at {price}.")
        quantity = round_to_step(capital * level.weight_percent / HUNDRED / price, precision.step_size)
        if quantity <= 0 or quantity < precision.min_qty:
            raise GridError(
                f"Leg {index}: quantity {quantity} at {price} is below the exchange minimum {precision.min_qty}; "
                f"raise capital_usd or the leg's weight."
            )
        if quantity * price < precision.min_notional:
            raise GridError(
                f"Leg {index}: order value {quantity * price} is below the exchange minimum {precision.min_notional}; "
                f"raise capital_usd or the leg's weight."
            )
        legs.append(
            PlannedLeg(
                leg_index=index,
                price=price,
                quantity=quantity,
                gap_percent=level.gap_percent,
                weight_percent=level.weight_percent,
                tp_percent=level.tp_percent,
                tp_price=take_profit_price(side, price, level.tp_percent, precision.tick_size),
            )
        )
    return legs


def capital_for_signal(
    *,
    capital_usd: Decimal,
    use_signal_size: bool,
    order_size: Decimal | None,
    size_type: str,
    entry_price: Decimal,
    quote_usd_rate: Decimal = Decimal(1),
) -> Decimal:
    """The pyramid's capital in the market's quote currency: the config's USD converted at
    ``quote_usd_rate`` (USD per unit of quote; 1 for USDT), or the signal's size (quote as is;
    base/contracts × price)."""
    if not use_signal_size or not order_size or order_size <= 0:
        return capital_usd / quote_usd_rate
    return order_size if size_type == "quote" else order_size * entry_price
