"""Paper perpetuals' liquidation at the maintenance margin (the model is described in ``exchanges.paper.swaps``).

Checked whenever a price of a swap market moves (``services.paper_match``: the shared price for the accounts
that follow it, an account's own price for that account), after the resting orders it crosses have filled.
A position whose liquidation price (``swaps.held_liquidation_price``: where its collateral plus unrealised PnL
meets the tiered maintenance margin, the solver the engine's estimate uses) the new price reaches (a long at
or below it, a short at or above it) is closed at its liquidation price, whatever the price jumped to:

- the account's open orders on that position are cancelled first (one-way mode: all its orders on the
  symbol; hedge mode: those of that leg), as Binance does, and what they held goes back to free;
- isolated: the position's margin is lost, and never more; cross: its loss at the liquidation price plus
  its maintenance margin there (by the tier table ``swaps.TIERS``, at the notional there), taken from its
  margin and then the free balance, never more than both;
- a closed ``PaperOrder`` with client order id ``autoclose-<position>-<unix seconds>`` (Binance names its
  liquidation orders ``autoclose-…``) and its ``PaperFill`` record it: the fill's ``realized_pnl`` is the
  price PnL at the liquidation price and its ``fee`` the rest of what was lost (the clearance that Binance
  gives its insurance fund), so fetch_closed_orders and the order's trades show the liquidation and the
  books still add up (realised PnL − fees = − what was lost).

Locks, in the exchange's order: the account's open orders on the position, the position, the balance; in
a transaction of its own after the matching one.
"""

import logging
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from exchanges.enums import OrderSide, OrderType
from exchanges.models import (
    ExchangeAccount,
    PaperAccountPrice,
    PaperBalance,
    PaperFill,
    PaperMarket,
    PaperOrder,
    PaperPosition,
)
from exchanges.paper import funding, swaps
from exchanges.paper.balances import STARTING_ASSET, locked_balance

logger = logging.getLogger(__name__)


def reached(side: str, trigger: Decimal | None, price: Decimal) -> bool:
    if trigger is None:
        return False
    return price <= trigger if side == "long" else price >= trigger


def liquidations_run(
    *, market: PaperMarket, price: Decimal, account: ExchangeAccount | None = None, now: datetime | None = None
) -> int:
    """Settle funding and liquidate the positions on ``market`` that ``price`` reaches: ``account``'s at its
    own price, or (no ``account``) those of every account following the shared price. Returns how many."""
    now = now or timezone.now()
    positions = PaperPosition.objects.filter(account__exchange_id=market.exchange_id, symbol=market.symbol)
    if account is not None:
        positions = positions.filter(account=account)
    else:
        own = PaperAccountPrice.objects.filter(account__exchange_id=market.exchange_id, symbol=market.symbol)
        positions = positions.exclude(account__in=own.values("account_id"))
    liquidated = 0
    for row in list(positions.select_related("account").order_by("pk")):
        funding.funding_settle(row.account, symbols=[row.symbol], now=now)
        if _due(row.account, row.pk, market, price) is not None:
            liquidated += _liquidate(row.account, row.pk, market, price, now)
    return liquidated


def _due(account: ExchangeAccount, pk: int, market: PaperMarket, price: Decimal) -> Decimal | None:
    """The liquidation price of position ``pk`` if ``price`` reaches it (read without locks, to decide)."""
    book = swaps.book_of(account)
    held = next((entry for entry in book if entry.position.pk == pk), None)
    if held is None:
        return None
    held = swaps.Held(held.position, market.contract_size, market.tick_size, price)
    book = [held if entry.position.pk == pk else entry for entry in book]
    free = PaperBalance.objects.filter(account=account, asset=STARTING_ASSET).values_list("free", flat=True).first()
    trigger = swaps.held_liquidation_price(held, book, pool_free(held.position, free or Decimal(0)))
    return trigger if reached(held.position.side, trigger, price) else None


def _position_orders(position: PaperPosition):
    return PaperOrder.objects.filter(
        account_id=position.account_id,
        symbol=position.symbol,
        status=PaperOrder.Status.OPEN,
        position_side=position.position_side,
    )


def pool_free(position: PaperPosition, free: Decimal) -> Decimal:
    """The free balance a cross position's liquidation counts: free plus what the position's own open orders
    hold (a liquidation cancels them first, so they never stand between it and its margin)."""
    if position.margin_mode != "cross":
        return free
    held = _position_orders(position).aggregate(total=Sum("margin_held"))["total"]
    return free + (held or Decimal(0))


def _liquidate(account: ExchangeAccount, pk: int, market: PaperMarket, price: Decimal, now: datetime) -> int:
    with transaction.atomic():
        unlocked = PaperPosition.objects.filter(pk=pk).first()
        if unlocked is None:
            return 0
        orders = list(_position_orders(unlocked).select_for_update().order_by("pk"))
        position = PaperPosition.objects.select_for_update().filter(pk=pk).first()
        if position is None:
            return 0
        position.account = account
        funding.position_settle(position, market=market, price=price, now=now)
        balance = locked_balance(account, STARTING_ASSET)
        free = (
            balance.free + sum((order.margin_held for order in orders), Decimal(0))
            if position.margin_mode == "cross"
            else balance.free
        )
        book = [
            swaps.Held(position, market.contract_size, market.tick_size, price) if entry.position.pk == pk else entry
            for entry in swaps.book_of(account)
        ]
        held = next(entry for entry in book if entry.position.pk == pk)
        trigger = swaps.held_liquidation_price(held, book, free)
        if trigger is None or not reached(position.side, trigger, price):
            return 0  # a fill or funding in between moved it away
        for order in orders:
            order.status = PaperOrder.Status.CANCELED
            order.save(update_fields=["status", "updated_at"])
            swaps.release_hold(order)
        balance.refresh_from_db()
        _close(account, position, market, trigger, free=balance.free, now=now)
    logger.info(
        "paper liquidation: account %s %s %s %s contracts at %s (price %s)",
        account.pk,
        market.symbol,
        position.side,
        position.contracts,
        trigger,
        price,
    )
    return 1


def _close(
    account: ExchangeAccount, position: PaperPosition, market: PaperMarket, at: Decimal, *, free: Decimal, now: datetime
) -> None:
    quantity = position.contracts * market.contract_size
    sign = 1 if position.side == "long" else -1
    pnl_at = (sign * (at - position.entry_price) * quantity).quantize(swaps.UNIT, rounding=ROUND_DOWN)
    if position.margin_mode == "cross":
        maintenance = swaps.maintenance_margin(quantity, at).quantize(swaps.UNIT, rounding=ROUND_UP)
        lost = min(maintenance - pnl_at, position.margin + free)
    else:
        lost = position.margin
    pnl = max(pnl_at, -lost)
    fee = lost + pnl  # the clearance: what is lost beyond the price PnL (>= 0)
    order = PaperOrder.objects.create(
        account=account,
        exchange_id=account.exchange_id,
        symbol=position.symbol,
        client_order_id=f"autoclose-{position.pk}-{int(now.timestamp())}",
        side=OrderSide.SELL if position.side == "long" else OrderSide.BUY,
        order_type=OrderType.LIMIT,
        price=at,
        amount=position.contracts,
        filled=position.contracts,
        average=at,
        cost=quantity * at,
        fee=fee,
        fee_currency=market.settle,
        status=PaperOrder.Status.CLOSED,
        reduce_only=True,
        position_side=position.position_side,
    )
    PaperFill.objects.create(
        order=order,
        price=at,
        amount=position.contracts,
        fee=fee,
        fee_currency=market.settle,
        is_maker=False,
        realized_pnl=pnl,
    )
    PaperBalance.objects.filter(account=account, asset=STARTING_ASSET).update(
        free=F("free") + position.margin - lost, used=F("used") - position.margin
    )
    position.delete()
