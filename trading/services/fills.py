"""What a group's fills add up to: the statistics replay, the quantity held, the group's and its
pyramids' statuses as their legs fill, and the over-sell anomaly. No exchange calls: the fills are
the ones ``trading.services.orders`` applied from the exchange's answers.
"""

import logging
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from core.events import emit
from exchanges.currency import quote_of
from trading.locks import lock_group
from trading.models import Order, PositionGroup, Pyramid
from trading.services.transitions import group_transition, pyramids_move
from trading.states import (
    GROUP_TRADING_STATUSES,
    ORDER_DEAD_STATUSES,
    PYRAMID_FILLING_STATUSES,
    GroupStatus,
    OrderStatus,
    PyramidStatus,
)
from trading.stats import FillEvent, replay

logger = logging.getLogger(__name__)


def base_asset(symbol: str) -> str:
    return symbol.split("/")[0]


def fill_events(orders, symbol: str) -> list[FillEvent]:
    """The fills of ``orders`` (entries and exits) as the statistics replay takes them.

    An entry counts from its first fill, an exit from its completion: a leg cancelled part-filled
    (never ``filled_at``) then counts before the take-profits that sold its coins, never after them
    (which made the replay cap those sells and the close sell the coins again).
    """
    base, quote = base_asset(symbol), quote_of(symbol)
    return [
        FillEvent(
            is_entry=order.role == Order.Role.ENTRY,
            quantity=order.filled_quantity,
            price=order.avg_fill_price or order.price,
            fee=order.fee,
            fee_in_base=order.fee_currency == base,
            at=(order.first_filled_at if order.role == Order.Role.ENTRY else None)
            or order.filled_at
            or order.updated_at,
            fee_cost=_third_currency_fee_cost(order, base, quote),
        )
        for order in orders.filter(filled_quantity__gt=0).order_by("filled_at", "updated_at")
    ]


def _third_currency_fee_cost(order: Order, base: str, quote: str) -> Decimal | None:
    """A fee paid in neither the base nor the quote (BNB): its value in the quote at the recorded rate,
    zero while no rate could be had (never the BNB amount booked as quote)."""
    if not order.fee or order.fee_currency in ("", base, quote):
        return None
    return order.fee * order.fee_rate if order.fee_rate is not None else Decimal(0)


def group_fills(group: PositionGroup) -> list[FillEvent]:
    return fill_events(group.orders, group.symbol)


def group_funding(group: PositionGroup) -> Decimal:
    """The sum of the group's funding shares (received positive, paid negative; ``trading.services.funding``).
    Only swap groups are paid funding: a spot group's refresh (the fill sync's hot path) asks nothing."""
    if (group.config_snapshot or {}).get("market_type") != "swap":
        return Decimal(0)
    return group.funding_payments.aggregate(total=Sum("amount"))["total"] or Decimal(0)


def group_refresh_stats(*, group_id) -> PositionGroup:
    """Replay the group's fills and store its statistics and leg counts; move its status with them."""
    with transaction.atomic():
        group = lock_group(group_id)
        stats = replay(group.side, group_fills(group), funding=group_funding(group))
        counts = group.orders.filter(role=Order.Role.ENTRY).aggregate(
            legs=Count("pk"),
            dead=Count("pk", filter=Q(status__in=ORDER_DEAD_STATUSES, filled_quantity=0)),
            filled=Count(
                "pk", filter=Q(status=OrderStatus.FILLED) | Q(status=OrderStatus.CANCELLED, filled_quantity__gt=0)
            ),
            touched=Count("pk", filter=Q(filled_quantity__gt=0)),
        )
        total, filled = counts["legs"] - counts["dead"], counts["filled"]
        unrealized_usd, unrealized_percent = stats.unrealized(group.current_price)
        PositionGroup.objects.filter(pk=group.pk).update(
            weighted_avg_entry=stats.weighted_avg_entry,
            total_filled_quantity=stats.held_quantity,
            total_invested_usd=stats.invested_usd,
            realized_pnl_usd=stats.realized_pnl_usd,
            fees_usd=stats.fees_usd,
            funding_pnl_usd=stats.funding_usd,
            unrealized_pnl_usd=unrealized_usd,
            unrealized_pnl_percent=unrealized_percent,
            total_dca_legs=total,
            filled_dca_legs=min(filled, total),
            oversold_quantity=stats.oversold_quantity,
            updated_at=timezone.now(),
        )
        if stats.oversold_quantity > group.oversold_quantity:
            _report_oversell(group, stats.oversold_quantity)
        group.refresh_from_db()
        _move_group_with_fills(group, filled=filled, total=total, touched=counts["touched"])
        _move_pyramids_with_fills(group)
    return group


def _report_oversell(group: PositionGroup, oversold: Decimal) -> None:
    """Exit fills sold more than the group held: loud, everywhere a trader or operator looks."""
    base = base_asset(group.symbol)
    message = (
        f"ANOMALY: the exchange filled {oversold.normalize():f} {base} more in exits than this position "
        f"held. On a spot account those coins were not the position's; check the account and its orders."
    )
    logger.error("group %s (%s %s): %s", group.pk, group.side, group.symbol, message)
    emit("failure", group=group, message=message)  # urgent: through quiet hours


def _move_group_with_fills(group: PositionGroup, *, filled: int, total: int, touched: int) -> None:
    """live → partially_filled at the first fill (even part of a leg) → active when every leg filled."""
    if group.status == GroupStatus.LIVE and total == 0 and not group.total_filled_quantity:
        # Every leg failed or was cancelled without a fill: nothing of this group is on the exchange.
        if not group.orders.filter(status__in=[OrderStatus.PENDING, OrderStatus.TRIGGER_PENDING]).exists():
            group_transition(group, to=GroupStatus.FAILED, reason="none of its orders is on the exchange any more")
            emit("failure", group=group, message="None of the position's orders is on the exchange any more.")
        return
    if group.status not in GROUP_TRADING_STATUSES:
        return
    if total and filled >= total:
        target = GroupStatus.ACTIVE
    elif touched:
        target = GroupStatus.PARTIALLY_FILLED
    else:
        return
    if target != group.status:
        emit("status", group=group, from_status=group.status, to_status=target)
        group_transition(group, to=target)


def _move_pyramids_with_fills(group: PositionGroup) -> None:
    for pyramid in group.pyramids.filter(status__in=PYRAMID_FILLING_STATUSES):
        legs = pyramid.orders.filter(role=Order.Role.ENTRY).exclude(status=OrderStatus.FAILED)
        if not legs.exists():
            continue
        unfilled = legs.exclude(status=OrderStatus.FILLED).exclude(status=OrderStatus.CANCELLED, filled_quantity__gt=0)
        status = (
            Pyramid.Status.FILLED
            if not unfilled.exists()
            else (Pyramid.Status.PARTIALLY_FILLED if legs.filter(filled_quantity__gt=0).exists() else pyramid.status)
        )
        if status != pyramid.status:
            pyramids_move(
                Pyramid.objects.filter(pk=pyramid.pk),
                sources=[pyramid.status],
                to=PyramidStatus(status),  # a str to mypy: one of the two above, as pyramid.status is not
                filled_at=timezone.now() if status == Pyramid.Status.FILLED else None,
            )


def held_quantity(group: PositionGroup) -> Decimal:
    return replay(group.side, group_fills(group)).held_quantity
