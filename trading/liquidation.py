"""Where a leveraged swap position is liquidated, and a DCA grid's preview before entry (pure: no ORM).

The model (a simple one, stated so a trader can redo it by hand):

- **Maintenance margin** is tiered by the position's notional (quantity × price): a tier has a
  maintenance-margin rate ``r`` and a maintenance amount ``c`` so that maintenance margin =
  notional × r − c. ``c`` makes the margin continuous across tiers: c(n) = c(n−1) + floor(n) ×
  (r(n) − r(n−1)), c(1) = 0 (the exchange publishes the same numbers as "maintenance amount").
- **Isolated margin:** the position's collateral is its initial margin, notional at the average
  entry ÷ leverage. It is liquidated at the price P where collateral + unrealised PnL = maintenance
  margin at P:

      long:  Q·A/L + Q·(P − A) = Q·P·r − c   →   P = (Q·A − Q·A/L − c) / (Q·(1 − r))
      short: Q·A/L + Q·(A − P) = Q·P·r − c   →   P = (Q·A + Q·A/L + c) / (Q·(1 + r))

  (Q base quantity, A average entry, L leverage). This is Binance's published isolated formula with
  the wallet balance = the position's initial margin. The tier is the one holding the notional *at
  the liquidation price* (Q·P), as the exchange evaluates it there: each tier's P is computed and the
  self-consistent one is kept. The solver is ``exchanges.tiers.liquidation_price``, shared with the paper
  exchange (``exchanges.paper.swaps``), which liquidates by the table it publishes: for an isolated paper
  position this estimate is where it is liquidated (put on the market's tick towards the entry).
- **Cross margin:** assumed to hold only this position's initial margin, i.e. the isolated answer.
  That is the worst case: a cross position also draws on the account's free balance (and other
  positions' PnL), so on the exchange it is liquidated further away.
- **Fees and funding are ignored** (entry and closing fees, and funding, move the price slightly
  closer; at 0.05 % taker fee per side that is about 0.1 % of the notional).
- A long whose margin covers a fall to zero (leverage 1) is never liquidated: no price is returned.

The tier table (``exchanges.tiers``) is the exchange's own when the trader's swap account has given it
(``Connector.fetch_leverage_tiers``, cached by ``exchanges.services.derivatives.leverage_tiers``), else the
default: Binance USDⓈ-M BTCUSDT's first tiers (``BINANCE_BTCUSDT_TIERS``, source in ``exchanges.tiers``).
Other symbols and exchanges have higher rates (altcoins often start at 0.5–1 %): with the default table their
estimate is optimistic by that difference, which is why the preview calls it an estimate and says which
table it used.

The grid preview takes a ladder (``trading.grid.DcaLevel``), the capital of one pyramid and an entry
price, and sizes legs as the engine does (qty = capital × weight ÷ price) *before* the market's tick
and step rounding, which needs the exchange's market; the placed legs are rounded down to the step,
so they are a hair smaller. Each pyramid is previewed on its own: later pyramids add to the same
position on the exchange and bring its liquidation closer still.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from exchanges.tiers import BINANCE_BTCUSDT_TIERS, MarginTier, capped_leverage
from exchanges.tiers import liquidation_price as tier_liquidation_price
from trading.grid import HUNDRED, DcaLevel
from trading.vocabulary import Side

ZERO = Decimal(0)
ONE = Decimal(1)
MIN_LEVERAGE = 1
MAX_LEVERAGE = 125
DEFAULT_TIERS_SOURCE = "Binance USDⓈ-M BTCUSDT's maintenance-margin tiers (the default table)"
PreviewTiers = tuple[Sequence[MarginTier], str]  # an exchange's tier table, and where it came from in words


def liquidation_price(
    *,
    side: str,
    quantity: Decimal,
    average_entry: Decimal,
    leverage: int,
    margin_mode: str = "isolated",
    tiers: Sequence[MarginTier] = BINANCE_BTCUSDT_TIERS,
) -> Decimal | None:
    """The estimated liquidation price of a position (module docstring: isolated formula, cross as
    isolated, fees ignored); None for a long that cannot be liquidated (margin covers a fall to zero).

    ``margin_mode`` is accepted for both modes: cross is estimated as isolated (the worst case).
    """
    if quantity <= 0 or average_entry <= 0:
        raise ValueError(f"A position needs a positive quantity and entry price, got {quantity} at {average_entry}.")
    if leverage < MIN_LEVERAGE:
        raise ValueError(f"Leverage must be at least {MIN_LEVERAGE}, got {leverage}.")
    margin = quantity * average_entry / Decimal(leverage)
    price = tier_liquidation_price(side=side, quantity=quantity, entry=average_entry, collateral=margin, tiers=tiers)
    return price if price > 0 else None


@dataclass(frozen=True)
class PreviewLeg:
    leg_index: int
    gap_percent: Decimal
    price: Decimal
    quantity: Decimal  # base asset
    notional: Decimal  # quote: price × quantity
    margin: Decimal  # notional ÷ leverage
    beyond_liquidation: bool  # at or past the liquidation price with every leg filled


@dataclass(frozen=True)
class GridPreview:
    side: str
    entry_price: Decimal
    leverage: int
    margin_mode: str
    legs: tuple[PreviewLeg, ...]
    quantity: Decimal  # every leg filled
    notional: Decimal
    margin: Decimal
    average_entry: Decimal
    liquidation_price: Decimal | None  # None: a long at leverage 1 is never liquidated
    configured_leverage: int = 0  # the configuration's; ``leverage`` is it capped by the tier of ``notional``
    tiers_source: str = ""  # which tier table the estimate used, in words

    @property
    def deepest_leg(self) -> PreviewLeg:
        """The leg farthest against the position: the lowest buy of a long, the highest sell of a short."""
        if self.side == Side.LONG:
            return min(self.legs, key=lambda leg: leg.price)
        return max(self.legs, key=lambda leg: leg.price)

    @property
    def last_leg_beyond_liquidation(self) -> bool:
        return self.deepest_leg.beyond_liquidation

    def percent_from_entry(self, price: Decimal) -> Decimal:
        """How far ``price`` is from the entry, in percent (negative below)."""
        return (price / self.entry_price - ONE) * HUNDRED


def is_beyond(side: str, price: Decimal, liquidation: Decimal | None) -> bool:
    """Long: at or below the liquidation price; short: at or above. Never when there is none."""
    if liquidation is None:
        return False
    return price <= liquidation if side == Side.LONG else price >= liquidation


def grid_preview(
    *,
    side: str,
    entry_price: Decimal,
    levels: Sequence[DcaLevel],
    capital: Decimal,
    leverage: int,
    margin_mode: str = "isolated",
    tiers: Sequence[MarginTier] = BINANCE_BTCUSDT_TIERS,
    tiers_source: str = DEFAULT_TIERS_SOURCE,
) -> GridPreview:
    """One pyramid's grid at ``entry_price``: each leg's price (long: entry × (1 + gap/100), short:
    entry × (1 − gap/100), as ``trading.grid.leg_price`` before the tick), its base quantity
    (capital × weight/100 ÷ price, before the step), notional and margin; the average entry and
    quantity with every leg filled, and the liquidation price of that position. The leverage is
    ``leverage`` capped by the tier holding the grid's full notional, as the engine sets it on the exchange
    (``leverage_for_grid``)."""
    if entry_price <= 0:
        raise ValueError(f"The entry price must be positive, got {entry_price}.")
    if capital <= 0:
        raise ValueError(f"The capital must be positive, got {capital}.")
    if not levels:
        raise ValueError("The ladder has no levels.")
    raw = []
    for index, level in enumerate(levels):
        factor = ONE + level.gap_percent / HUNDRED if side == Side.LONG else ONE - level.gap_percent / HUNDRED
        price = entry_price * factor
        if price <= 0:
            raise ValueError(f"Leg {index}: gap {level.gap_percent}% puts the price at {price}.")
        notional = capital * level.weight_percent / HUNDRED
        raw.append((index, level.gap_percent, price, notional / price, notional))
    quantity = sum((leg[3] for leg in raw), ZERO)
    notional = sum((leg[4] for leg in raw), ZERO)
    average = notional / quantity
    configured, leverage = leverage, capped_leverage(leverage, notional, tiers)
    lever = Decimal(leverage)
    liquidation = liquidation_price(
        side=side, quantity=quantity, average_entry=average, leverage=leverage, margin_mode=margin_mode, tiers=tiers
    )
    legs = tuple(
        PreviewLeg(
            leg_index=index,
            gap_percent=gap,
            price=price,
            quantity=leg_quantity,
            notional=leg_notional,
            margin=leg_notional / lever,
            beyond_liquidation=is_beyond(side, price, liquidation),
        )
        for index, gap, price, leg_quantity, leg_notional in raw
    )
    return GridPreview(
        side=side,
        entry_price=entry_price,
        leverage=leverage,
        margin_mode=margin_mode,
        legs=legs,
        quantity=quantity,
        notional=notional,
        margin=notional / lever,
        average_entry=average,
        liquidation_price=liquidation,
        configured_leverage=configured,
        tiers_source=tiers_source,
    )


def beyond_liquidation_message(preview: GridPreview, *, ladder: str = "levels") -> str | None:
    """A trader's reason to refuse a ladder whose deepest leg lies at or beyond the liquidation price
    with every leg filled, in percent of the entry price (the same at any entry price), or None."""
    if not preview.last_leg_beyond_liquidation or preview.liquidation_price is None:
        return None
    leg = preview.deepest_leg
    where = "below" if preview.side == Side.LONG else "above"
    liquidation = abs(preview.percent_from_entry(preview.liquidation_price))
    average = abs(preview.percent_from_entry(preview.average_entry))
    return (
        f"{ladder}: leg {leg.leg_index} of a {preview.side} (gap {leg.gap_percent.normalize():f}%, "
        f"{abs(preview.percent_from_entry(leg.price)):.2f}% {where} the entry) lies beyond the estimated "
        f"liquidation price, {liquidation:.2f}% {where} the entry with every leg filled (average entry "
        f"{average:.2f}% {where} it, leverage {preview.leverage}×, {preview.margin_mode} margin). Lower the "
        "leverage, bring the deepest legs closer, or set allow_legs_beyond_liquidation."
    )


@dataclass(frozen=True)
class LeverageChoice:
    """The leverage a new swap group trades with: the configuration's, capped by the exchange's tier for the
    grid's full notional (every leg of the pyramid filled, at its price). ``note`` tells the trader when the
    leverage is not simply the configured one, or could not be checked ("" otherwise)."""

    configured: int
    leverage: int
    notional: Decimal  # quote asset: the sum of the legs' price × quantity
    note: str = ""

    @property
    def capped(self) -> bool:
        return self.leverage < self.configured


def leverage_for_grid(
    *, configured: int, notional: Decimal, quote: str, tiers: Sequence[MarginTier] | None, unavailable: str = ""
) -> LeverageChoice:
    """``configured``, lowered to the cap of the tier holding ``notional`` (``exchanges.tiers.capped_leverage``).
    Without ``tiers`` (``unavailable`` says why) the configured leverage stands, with a note saying the cap was
    not checked: the trade still happens, as the exchange itself refuses an order beyond its cap."""
    amount = f"{notional.quantize(Decimal('0.01')).normalize():f} {quote}"
    if not tiers:
        return LeverageChoice(
            configured,
            configured,
            notional,
            f"leverage {configured}× as configured, not checked against the exchange's leverage tiers "
            f"({unavailable or 'none given'})",
        )
    leverage = capped_leverage(configured, notional, tiers)
    if leverage >= configured:
        return LeverageChoice(configured, configured, notional)
    return LeverageChoice(
        configured,
        leverage,
        notional,
        f"leverage {leverage}× instead of the configured {configured}×: the exchange allows at most {leverage}× "
        f"for the grid's full notional of {amount}",
    )
