"""Paper linear perpetuals: positions, leverage, margin, reduce-only and hedge-mode orders.

A paper account with ``market_type`` swap trades the paper markets whose symbol names a settle asset
(``BTC/USDT:USDT``), all settled in USDT. Internally every amount on such a market counts contracts
(``PaperMarket.contract_size`` base units each); the connector converts to and from the base asset.

What is modelled:

- One position per (account, symbol) in one-way mode, one per leg (long, short) in hedge mode
  (``ExchangeAccount.paper_position_mode``). In one-way mode an opposite order first reduces the position
  and then, unless reduce-only, opens the rest on the other side (a flip). In hedge mode ``position_side``
  is required: a buy on the long leg or a sell on the short leg opens, the opposite closes that leg only.
- ``reduce_only`` (one-way mode only; hedge mode refuses it, as Binance does): refused when there is no
  position to reduce or the order would increase it; cut to the position's size at placement; at a fill,
  cut to what is left of the position then, and the rest of the order cancelled (an exchange expires it).
  Reduce-only orders are exempt from the minimum notional. A hedge-mode close behaves the same way.
- Margin: an order that may open reserves ``notional / leverage + fee`` (at the higher of the maker and
  taker fee, at the price it can fill at) from the free USDT balance into ``used``; each fill releases its
  share, and the part that opens moves ``notional / leverage`` into the position's isolated margin (still
  ``used``) and pays its fee. A close releases the closed share of the position's margin and realises its
  PnL (``(exit - entry) * base quantity``, sign by side) into the free balance, minus the fee. So at any
  moment the USDT total (free + used) is the starting balance plus the realised PnL minus the fees (plus
  funding, below), and ``used`` is the positions' margins plus what open orders hold.
- An order in one-way mode that is not reduce-only reserves margin for its whole amount, even when part
  of it would only reduce the position (conservative: closes are sent reduce-only).
- Leverage (1 to 125, default 1) and margin mode (default isolated) per (account, symbol); changing either
  is refused while the symbol has an open order or a position; setting the current value is success.
- Tiers: every paper perpetual has one leverage and maintenance-margin table, ``TIERS`` (Binance USDⓈ-M
  BTCUSDT's first tiers, ``exchanges.tiers.BINANCE_BTCUSDT_TIERS``: 0.40 % and 125× up to 50,000 USDT
  notional, 0.50 % and 100× to 500,000, 1 % and 50× to 8,000,000, …), the one ``fetch_leverage_tiers``
  publishes and the engine's preview and leverage cap read. Maintenance margin = notional × rate − the
  tier's maintenance amount, at the tier holding the notional (at the price it is valued at).
- Leverage cap: an order that may open is refused with Binance's -2027 ("Exceeded the maximum allowable
  position at current leverage.") when the notional the position may reach in its direction (the position
  at its entry, the open orders adding to it at their prices, the order) lies in a tier whose maximum
  leverage is below the symbol's leverage. Changing the leverage needs no such check here: it is refused
  while the symbol has a position or an open order.
- Liquidation (``exchanges.paper.liquidation``): the liquidation price is where the collateral plus the
  unrealised PnL equals the maintenance margin there, the tier being the one holding the notional at that
  price (fees left out; ``exchanges.tiers.liquidation_price``, the same solver as the engine's estimate in
  ``trading.liquidation``: an isolated position's paper liquidation price is the engine's estimate for it,
  put on the tick towards the entry). When a price move reaches it (checked after every match, at the shared
  price or an account's own), the position is closed at that price, its orders cancelled, an
  ``autoclose-…`` order and fill record it; isolated: the
  position's margin is lost and never more; cross: its loss there plus its maintenance margin, from its
  margin and then the free balance, never more than both.
- Margin modes. Opening margin is ``notional / leverage`` in both (held in ``used``). Isolated: only that
  margin stands behind the position (collateral = its margin). Cross: the account's cross positions share
  one pool, the free balance plus their margins: a cross position's collateral is the free balance, its
  margin, and each other cross position's margin plus unrealised PnL less its maintenance margin, those at
  their current prices (plus what its own open orders hold: a liquidation cancels them first). So a cross
  position's liquidation price is further away the more is free, and moves with the other cross positions;
  it is checked when its own symbol's price moves.
- ``margin_ratio`` (fetch_positions): maintenance margin / (margin + unrealised PnL), 1 at liquidation;
  isolated: the position's own; cross: the pool's, Σ maintenance / (free + Σ (margin + unrealised)).
- Funding every 8 h (00:00, 08:00, 16:00 UTC) at ``settings.PAPER_FUNDING_RATE`` or the market's own
  ``PaperMarket.funding_rate``, settled lazily and once per instant (``exchanges.paper.funding``); it moves
  the free balance (a payment free cannot cover comes from the position's margin), so the USDT total is the
  starting balance plus realised PnL minus fees plus funding. fetch_funding_history returns the rows.
- Answer dialects (binance, bybit) of the swap endpoints: placements, queries and positions take the shapes
  ccxt reads from those exchanges' answers (``exchanges.paper.connector``: as_placed, as_queried,
  as_position).

Not modelled: per-symbol tier tables (one table for every perpetual), a mark price
apart from the last price, funding rates that move, the insurance fund and auto-deleveraging, partial
liquidation (a position is closed whole), cross liquidation triggered by another symbol's move (checked on
the position's own symbol), OKX's answer dialect, and isolated margin added or removed by hand.
"""

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from django.utils import timezone

from exchanges import tiers
from exchanges.connector import InsufficientFunds, InvalidOrder
from exchanges.enums import OrderSide
from exchanges.models import (
    ExchangeAccount,
    PaperBalance,
    PaperFill,
    PaperLeverage,
    PaperMarket,
    PaperOrder,
    PaperPosition,
)
from exchanges.numbers import round_to_tick
from exchanges.paper import funding, matching
from exchanges.paper.balances import STARTING_ASSET, locked_balance
from exchanges.tiers import BINANCE_BTCUSDT_TIERS, MarginTier

# The one leverage and maintenance-margin table of every paper perpetual: what fetch_leverage_tiers publishes,
# what liquidation, the margin ratio and the leverage cap go by.
TIERS: tuple[MarginTier, ...] = BINANCE_BTCUSDT_TIERS
MAX_LEVERAGE = max(tier.max_leverage for tier in TIERS)  # 125
HUNDRED = Decimal(100)
UNIT = Decimal("1e-12")  # the money fields' last decimal place: margins are rounded to it

# Binance's words for the refusals a real exchange would answer with.
POSITION_SIDE_MISMATCH = "Order's position side does not match user's setting."
REDUCE_ONLY_REJECTED = "ReduceOnly Order is rejected."
REDUCE_ONLY_IN_HEDGE = "Parameter reduceOnly sent when not required."
EXCEEDED_MAXIMUM_POSITION = "Exceeded the maximum allowable position at current leverage."  # -2027


def _down(value: Decimal) -> Decimal:
    return value.quantize(UNIT, rounding=ROUND_DOWN)


def _up(value: Decimal) -> Decimal:
    return value.quantize(UNIT, rounding=ROUND_UP)


def direction(side: str) -> str:
    """The position an order's side builds: a buy goes long, a sell short."""
    return "long" if side == OrderSide.BUY else "short"


def liquidation_price(
    *, side: str, contracts: Decimal, contract_size: Decimal, entry: Decimal, margin: Decimal, tick: Decimal
) -> Decimal | None:
    """Where ``margin`` (the collateral: an isolated position's margin, a cross one's share of the pool, see
    ``collateral``) + unrealised PnL = the maintenance margin there, by ``TIERS`` at the notional there (fees
    left out; ``exchanges.tiers.liquidation_price``), on the market's tick towards the entry (the warning comes
    early, never late); None when the collateral covers any move (a long at leverage 1 never reaches it above
    zero)."""
    price = tiers.liquidation_price(
        side=side, quantity=contracts * contract_size, entry=entry, collateral=margin, tiers=TIERS
    )
    if side != "long" and price <= 0:  # a cross short whose account is underwater elsewhere: any price liquidates it
        return tick
    if price <= 0:
        return None
    return round_to_tick(price, tick, up=side == "long")


def maintenance_margin(quantity: Decimal, price: Decimal) -> Decimal:
    """The maintenance margin of a position of ``quantity`` (base asset) valued at ``price``: by ``TIERS``, at
    the tier holding its notional."""
    return tiers.maintenance_margin(quantity * price, TIERS)


@dataclass(frozen=True)
class Held:
    """A position valued at its market's paper price as its account sees it (None: no price yet, valued at
    its entry)."""

    position: PaperPosition
    contract_size: Decimal
    tick: Decimal
    price: Decimal | None

    @property
    def mark(self) -> Decimal:
        return self.price if self.price is not None else self.position.entry_price

    @property
    def unrealized(self) -> Decimal:
        sign = 1 if self.position.side == "long" else -1
        return sign * (self.mark - self.position.entry_price) * self.position.contracts * self.contract_size

    @property
    def maintenance(self) -> Decimal:
        return maintenance_margin(self.position.contracts * self.contract_size, self.mark)

    @property
    def cross(self) -> bool:
        return self.position.margin_mode == "cross"


def book_of(account: ExchangeAccount, positions: list[PaperPosition] | None = None) -> list[Held]:
    """``account``'s positions (all, or ``positions``) valued at the prices it trades at."""
    from exchanges.paper.selectors import account_quotes

    if positions is None:
        positions = list(PaperPosition.objects.filter(account=account).order_by("symbol", "position_side"))
    symbols = sorted({row.symbol for row in positions})
    markets = {
        row.symbol: row for row in PaperMarket.objects.filter(exchange_id=account.exchange_id, symbol__in=symbols)
    }
    quotes = account_quotes(account, symbols)
    return [
        Held(
            position=row,
            contract_size=markets[row.symbol].contract_size,
            tick=markets[row.symbol].tick_size,
            price=quotes[row.symbol].price if row.symbol in quotes else None,
        )
        for row in positions
    ]


def collateral(held: Held, book: list[Held], free: Decimal) -> Decimal:
    """What a position's losses draw on before it is liquidated. Isolated: its own margin. Cross: the free
    balance, its margin, and what the account's other cross positions add at their prices (their margin
    plus unrealised PnL, less their maintenance margin): all cross positions share one pool."""
    if not held.cross:
        return held.position.margin
    others = [other for other in book if other.cross and other.position.pk != held.position.pk]
    return (
        free
        + held.position.margin
        + sum((o.position.margin + o.unrealized - o.maintenance for o in others), Decimal(0))
    )


def held_liquidation_price(held: Held, book: list[Held], free: Decimal) -> Decimal | None:
    """Where ``held`` is liquidated, the account's other positions staying at their prices."""
    position = held.position
    return liquidation_price(
        side=position.side,
        contracts=position.contracts,
        contract_size=held.contract_size,
        entry=position.entry_price,
        margin=collateral(held, book, free),
        tick=held.tick,
    )


def margin_ratio(held: Held, book: list[Held], free: Decimal) -> Decimal | None:
    """Maintenance margin / (margin + unrealised PnL): liquidation comes at 1. Isolated: the position's own.
    Cross: the account's cross pool, Σ maintenance / (free + Σ (margin + unrealised)) over its cross
    positions (as Binance reports one ratio for the cross wallet). None when nothing is left (past 1)."""
    group = [other for other in book if other.cross] if held.cross else [held]
    equity = sum((o.position.margin + o.unrealized for o in group), Decimal(0)) + (free if held.cross else 0)
    if equity <= 0:
        return None
    return sum((o.maintenance for o in group), Decimal(0)) / equity


# --- Settings --------------------------------------------------------------------------------


def settings_of(account: ExchangeAccount, symbol: str) -> PaperLeverage:
    """The leverage and margin mode ``account`` trades ``symbol`` with (the defaults until one is set)."""
    return PaperLeverage.objects.filter(account=account, symbol=symbol).first() or PaperLeverage(
        account=account, symbol=symbol
    )


def _refuse_while_busy(account: ExchangeAccount, symbol: str | None, what: str) -> None:
    orders = PaperOrder.objects.filter(account=account, status=PaperOrder.Status.OPEN, symbol__contains=":")
    positions = PaperPosition.objects.filter(account=account)
    if symbol is not None:
        orders, positions = orders.filter(symbol=symbol), positions.filter(symbol=symbol)
    if orders.exists():
        raise InvalidOrder(f"{what} cannot be changed while there are open orders.")
    if positions.exists():
        raise InvalidOrder(f"{what} cannot be changed while there is an open position.")


def leverage_set(account: ExchangeAccount, market: PaperMarket, leverage: int) -> PaperLeverage:
    if not 1 <= int(leverage) <= MAX_LEVERAGE:
        raise InvalidOrder(f"Leverage {leverage} is not valid: 1 to {MAX_LEVERAGE}.")
    current = settings_of(account, market.symbol)
    if current.pk and current.leverage == int(leverage):
        return current  # "not modified" is success
    if current.leverage != int(leverage):
        _refuse_while_busy(account, market.symbol, "Leverage")
    current.leverage = int(leverage)
    current.save()
    return current


def margin_mode_set(account: ExchangeAccount, market: PaperMarket, margin_mode: str) -> PaperLeverage:
    if margin_mode not in ("isolated", "cross"):
        raise InvalidOrder(f"Margin type {margin_mode!r} is not valid: isolated or cross.")
    current = settings_of(account, market.symbol)
    if current.pk and current.margin_mode == margin_mode:
        return current  # "No need to change margin type." is success
    if current.margin_mode != margin_mode:
        _refuse_while_busy(account, market.symbol, "Margin type")
    current.margin_mode = margin_mode
    current.save()
    return current


def position_mode_set(account: ExchangeAccount, mode: str) -> None:
    """One-way or hedge for the whole account; refused while it holds a position or an open swap order."""
    if mode not in ("one_way", "hedge"):
        raise InvalidOrder(f"Position mode {mode!r} is not valid: one_way or hedge.")
    if ExchangeAccount.objects.filter(pk=account.pk, paper_position_mode=mode).exists():
        return
    _refuse_while_busy(account, None, "Position side")
    ExchangeAccount.objects.filter(pk=account.pk).update(paper_position_mode=mode)
    account.paper_position_mode = mode


# --- Placement -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Admission:
    contracts: Decimal  # what the order will be for (a reduce-only order cut to the position)
    hold: Decimal  # USDT it holds from the free balance
    position_side: str  # "" in one-way mode


def order_admit(
    *,
    account: ExchangeAccount,
    market: PaperMarket,
    side: str,
    contracts: Decimal,
    price: Decimal,
    reduce_only: bool,
    position_side: str | None,
    margin_mode: str | None,
) -> Admission:
    """Decide, inside the placement's transaction, what an order on a swap market may be and hold; lock the
    position and the USDT balance and refuse as an exchange would."""
    hedge = ExchangeAccount.objects.values_list("paper_position_mode", flat=True).get(pk=account.pk) == "hedge"
    if hedge and position_side not in ("long", "short"):
        raise InvalidOrder(POSITION_SIDE_MISMATCH, exchange_message="hedge mode: send positionSide LONG or SHORT")
    if not hedge and position_side:
        raise InvalidOrder(POSITION_SIDE_MISMATCH, exchange_message="one-way mode: send no positionSide")
    if hedge and reduce_only:
        raise InvalidOrder(REDUCE_ONLY_IN_HEDGE)
    if margin_mode:
        margin_mode_set(account, market, margin_mode)  # OKX's tdMode: per order, refused if it would change
    key = position_side or ""
    position = (
        PaperPosition.objects.select_for_update()
        .filter(account=account, symbol=market.symbol, position_side=key)
        .first()
    )
    if reduce_only or (key and direction(side) != key):
        if position is None or position.side == direction(side):
            raise InvalidOrder(REDUCE_ONLY_REJECTED, exchange_message="no position to reduce in this direction")
        return Admission(contracts=min(contracts, position.contracts), hold=Decimal(0), position_side=key)
    setting = settings_of(account, market.symbol)
    notional = contracts * market.contract_size * price
    fee_percent = max(account.maker_fee_percent, account.taker_fee_percent)
    hold = _up(notional / setting.leverage + notional * fee_percent / HUNDRED)
    balance = locked_balance(account, STARTING_ASSET)  # from here a concurrent placement's orders are seen
    _refuse_beyond_tier(account, market, side, key, contracts, price, setting.leverage)
    if balance.free < hold:
        raise InsufficientFunds(
            "Margin is insufficient.",
            exchange_message=f"need {hold.normalize():f} {STARTING_ASSET} margin, free {balance.free.normalize():f}",
        )
    return Admission(contracts=contracts, hold=hold, position_side=key)


def _refuse_beyond_tier(
    account: ExchangeAccount,
    market: PaperMarket,
    side: str,
    key: str,
    contracts: Decimal,
    price: Decimal,
    leverage: int,
) -> None:
    """Binance's -2027: refused when the notional the position may reach in this order's direction — what it
    holds (at its entry), the open orders that add to it (at their prices) and this order (at ``price``; in
    one-way mode less the opposite position it first closes) — lies in a tier whose maximum leverage is below
    the symbol's leverage. Called holding the account's USDT balance lock, which every swap placement takes:
    the position and orders read here include those of a placement that committed just before."""
    size = market.contract_size
    position = PaperPosition.objects.filter(account=account, symbol=market.symbol, position_side=key).first()
    opening = contracts
    if position is not None and position.side != direction(side):
        opening = max(contracts - position.contracts, Decimal(0))  # one-way: closes the position first
    exposure = opening * size * price
    if position is not None and position.side == direction(side):
        exposure += position.contracts * size * position.entry_price
    adding = PaperOrder.objects.filter(
        account=account,
        symbol=market.symbol,
        status=PaperOrder.Status.OPEN,
        side=side,
        position_side=key,
        reduce_only=False,
        price__isnull=False,
    ).values_list("amount", "filled", "price")
    exposure += sum(((amount - filled) * size * (at or 0) for amount, filled, at in adding), Decimal(0))
    cap = tiers.tier_for(exposure, TIERS).max_leverage
    if leverage > cap:
        raise InvalidOrder(
            EXCEEDED_MAXIMUM_POSITION,
            exchange_message=(
                f"-2027: a position of {exposure.normalize():f} {market.settle} allows at most {cap}x, "
                f"the leverage is {leverage}x"
            ),
        )


def hold_margin(order: PaperOrder) -> None:
    """Move what a just-placed order holds from free to used."""
    if order.margin_held:
        _balance_move(order.account, free=-order.margin_held, used=order.margin_held)


def release_hold(order: PaperOrder) -> None:
    """An order cancelled: what it still holds goes back to free."""
    if order.margin_held:
        _balance_move(order.account, free=order.margin_held, used=-order.margin_held)
        order.margin_held = Decimal(0)
        order.save(update_fields=["margin_held", "updated_at"])


def _balance_move(account: ExchangeAccount, *, free: Decimal, used: Decimal) -> None:
    from django.db.models import F

    row = locked_balance(account, STARTING_ASSET)
    PaperBalance.objects.filter(pk=row.pk).update(free=F("free") + free, used=F("used") + used)


# --- Fills -----------------------------------------------------------------------------------


def fill_apply(
    order: PaperOrder, market: PaperMarket, contracts: Decimal, price: Decimal, *, is_maker: bool
) -> PaperFill | None:
    """Fill ``contracts`` of a locked open swap order at ``price``: move the position, its margin, the
    realised PnL and the fee, and save the order and its fill. A closing-only order (reduce-only, or a
    hedge-mode close) fills at most what is left of its position and is cancelled for the rest; None when
    nothing was left to close."""
    account = order.account
    key = order.position_side
    opens = direction(order.side)
    now = timezone.now()
    position = (
        PaperPosition.objects.select_for_update()
        .filter(account=account, symbol=order.symbol, position_side=key)
        .first()
    )
    if position is not None:  # the funding instants it missed, charged on the size it held then
        position.account = account
        funding.position_settle(position, market=market, price=price, now=now)
    reducing = Decimal(0)
    if position is not None and position.side != opens:
        reducing = min(contracts, position.contracts)
    closing_only = order.reduce_only or bool(key and opens != key)
    remaining_before = order.amount - order.filled
    cut = closing_only and contracts > reducing
    if cut:
        contracts = reducing
    held_share = order.margin_held
    if not cut and contracts < remaining_before:
        held_share = _down(order.margin_held * contracts / remaining_before)
    order.margin_held -= held_share
    free, used = held_share, -held_share
    fill = None
    if contracts:
        opening = contracts - reducing
        notional = contracts * market.contract_size * price
        fee_percent = account.maker_fee_percent if is_maker else account.taker_fee_percent
        fee = _up(notional * fee_percent / HUNDRED)
        pnl = Decimal(0)
        if reducing:
            assert position is not None
            sign = 1 if position.side == "long" else -1
            pnl = _down(sign * (price - position.entry_price) * reducing * market.contract_size)
            released = position.margin
            if reducing < position.contracts:
                released = _down(position.margin * reducing / position.contracts)
            free, used = free + released + pnl, used - released
            position.contracts -= reducing
            position.margin -= released
            position.realized_pnl += pnl
            if position.contracts:
                position.save()
            else:
                position.delete()
                position = None
        if opening:
            setting = settings_of(account, order.symbol)
            margin = _down(opening * market.contract_size * price / setting.leverage)
            free, used = free - margin, used + margin
            if position is None:
                position = PaperPosition(
                    account=account,
                    symbol=order.symbol,
                    position_side=key,
                    side=opens,
                    contracts=Decimal(0),
                    entry_price=price,
                    leverage=setting.leverage,
                    margin_mode=setting.margin_mode,
                    margin=Decimal(0),
                    funding_settled_at=now,
                )
            position.entry_price = _down(
                (position.contracts * position.entry_price + opening * price) / (position.contracts + opening)
            )
            position.contracts += opening
            position.margin += margin
            position.save()
        free -= fee
        fill_record = matching.Fill(contracts, price, fee, market.settle, is_maker)
        order.average = matching.average_price(order.filled, order.average, fill_record)
        order.filled += contracts
        order.cost += contracts * market.contract_size * price
        order.fee += fee
        order.fee_currency = market.settle
        fill = PaperFill.objects.create(
            order=order,
            price=price,
            amount=contracts,
            fee=fee,
            fee_currency=market.settle,
            is_maker=is_maker,
            realized_pnl=pnl,
        )
    if order.filled >= order.amount:
        order.status = PaperOrder.Status.CLOSED
    elif cut:
        order.status = PaperOrder.Status.CANCELED
    if order.status != PaperOrder.Status.OPEN and order.margin_held:
        free, used = free + order.margin_held, used - order.margin_held
        order.margin_held = Decimal(0)
    order.updated_at = timezone.now()
    order.save(
        update_fields=["filled", "average", "cost", "fee", "fee_currency", "status", "margin_held", "updated_at"]
    )
    _balance_move(account, free=free, used=used)
    return fill
