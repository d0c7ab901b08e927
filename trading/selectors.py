"""Read queries of the trading app."""

import time as clock
import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import F, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from trading.models import DCAConfiguration, Order, PositionGroup, Pyramid, Signal, User
from trading.states import GROUP_ACTIVE_STATUSES, OrderStatus


def active_groups(user) -> QuerySet[PositionGroup]:
    return PositionGroup.objects.filter(user=user, status__in=[s.value for s in GROUP_ACTIVE_STATUSES])


def active_group_for(*, user, exchange: str, symbol: str, timeframe: int, side: str) -> PositionGroup | None:
    """The one active group of this identity (the database allows at most one), locked if in a transaction."""
    return (
        active_groups(user)
        .filter(exchange=exchange, symbol=symbol, timeframe=timeframe, side=side)
        .select_for_update(of=("self",))
        .first()
    )


def dca_config_for(*, user, exchange: str, symbol: str, timeframe: int) -> DCAConfiguration | None:
    """Specific (pair, timeframe), then the pair on any timeframe, then the exchange default ``*``."""
    pairs = [symbol] + ([symbol.split(":")[0]] if ":" in symbol else [])
    candidates = DCAConfiguration.objects.filter(
        user=user, exchange=exchange, is_active=True, pair__in=[*pairs, "*"]
    ).filter(Q(timeframe=timeframe) | Q(timeframe__isnull=True))
    ranked = sorted(candidates, key=lambda c: (c.pair == "*", c.timeframe is None, pairs.index(c.pair) if c.pair in pairs else 0))
    return ranked[0] if ranked else None


def committed_exposure_usd(user) -> Decimal:
    """Capital the user's active groups have committed: the capital of each of their live pyramids."""
    total = Pyramid.objects.filter(group__in=active_groups(user)).exclude(status=Pyramid.Status.FAILED).aggregate(
        total=Sum("capital_usd")
    )["total"]
    return total or Decimal(0)


# Realised PnL in USD: each group's (in its quote currency) at its USD rate; a group whose quote has no
# USD price yet counts nothing (exchanges.currency).
_REALIZED_USD = Sum(F("realized_pnl_usd") * F("quote_usd_rate"), filter=Q(quote_usd_rate__isnull=False))


def realized_pnl_today_usd(user) -> Decimal:
    """Net realised PnL (profit positive) of groups closed since midnight in the user's time zone."""
    zone = ZoneInfo(user.time_zone or "UTC")
    midnight = datetime.combine(timezone.now().astimezone(zone).date(), time(0), tzinfo=zone)
    realized = PositionGroup.objects.filter(user=user, closed_at__gte=midnight).aggregate(total=_REALIZED_USD)["total"]
    return realized or Decimal(0)


def realized_pnl_by_day(user, *, days: int) -> list[tuple[date, Decimal]]:
    """Net realised PnL of the groups closed on each of the last ``days`` days (user's time zone),
    oldest first, a day without closes as 0."""
    zone = ZoneInfo(user.time_zone or "UTC")
    first = timezone.now().astimezone(zone).date() - timedelta(days=days - 1)
    rows = (
        PositionGroup.objects.filter(user=user, closed_at__gte=datetime.combine(first, time(0), tzinfo=zone))
        .annotate(day=TruncDate("closed_at", tzinfo=zone)).values("day")
        .annotate(total=_REALIZED_USD).order_by("day")
    )
    totals = {row["day"]: row["total"] for row in rows}
    return [(day, totals.get(day) or Decimal(0)) for day in (first + timedelta(days=n) for n in range(days))]


def realized_loss_today_usd(user) -> Decimal:
    """Net realised loss (positive number) of groups closed since midnight in the user's time zone."""
    return max(-realized_pnl_today_usd(user), Decimal(0))


def orders_to_cancel(group: PositionGroup) -> QuerySet[Order]:
    """Entry and take-profit orders of a group that may still rest on (or reach) the exchange."""
    live = [OrderStatus.PENDING, OrderStatus.TRIGGER_PENDING, OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED, OrderStatus.UNKNOWN]
    return group.orders.filter(role__in=[Order.Role.ENTRY, Order.Role.TAKE_PROFIT], status__in=live).order_by("created_at")


def symbols_to_sync(account=None) -> list[tuple[int, str]]:
    """(exchange account id, symbol) pairs with live orders: one fill-sync task each per cycle."""
    from trading.services.sync import SYNCED_STATUSES

    orders = Order.objects.filter(status__in=SYNCED_STATUSES)
    if account is not None:
        orders = orders.filter(group__exchange_account=account)
    # order_by(): Order's default ordering would add created_at to the DISTINCT, one pair per order.
    return list(orders.order_by().values_list("group__exchange_account_id", "symbol").distinct())


# The webhook's user is reused for this long in a process (0.5 ms of a ~2.8 ms request, measured by
# `make bench BENCH=webhook`). A rotated secret or a deactivated user takes effect at once in the
# process that saved it and within this many seconds in the others. Unknown ids are cached the same
# way, so a known and an unknown id take the same time (no user enumeration by timing); the cache
# is emptied when it reaches WEBHOOK_USER_CACHE_SIZE, so random ids cannot grow it.
WEBHOOK_USER_CACHE_SECONDS = 2.0
WEBHOOK_USER_CACHE_SIZE = 10_000
_webhook_users: dict[uuid.UUID, tuple[User | None, float]] = {}


def webhook_user(pk: uuid.UUID) -> User | None:
    """The active user a webhook URL names, with just what the webhook needs (None: no such user)."""
    now = clock.monotonic()
    cached = _webhook_users.get(pk)
    if cached is not None and cached[1] > now:
        return cached[0]
    user = User.objects.only("id", "webhook_secret", "replay_window_seconds", "dedupe_window_seconds").filter(
        pk=pk, is_active=True
    ).first()
    if len(_webhook_users) >= WEBHOOK_USER_CACHE_SIZE:
        _webhook_users.clear()
    _webhook_users[pk] = (user, now + WEBHOOK_USER_CACHE_SECONDS)
    return user


def forget_webhook_user(pk) -> None:
    _webhook_users.pop(uuid.UUID(str(pk)), None)


def positions_queryset(user) -> QuerySet[PositionGroup]:
    """The user's groups with pyramids, their orders and the group's exits prefetched: 4 queries per page."""
    ordered_orders = Order.objects.order_by("created_at", "leg_index")
    return (
        PositionGroup.objects.filter(user=user)
        .prefetch_related(
            Prefetch("pyramids", queryset=Pyramid.objects.order_by("index").prefetch_related(
                Prefetch("orders", queryset=ordered_orders)
            )),
            Prefetch("orders", queryset=ordered_orders.filter(pyramid__isnull=True), to_attr="prefetched_exit_orders"),
        )
        .order_by("-created_at")
    )


# What the signals page lists: the alerts the webhook accepted (whatever routing then did with them),
# the requests it refused (400-422: bad JSON, wrong secret, invalid alert), or both. Accepted is the
# default, so junk posted to a trader's URL never pushes their real alerts off the page.
SIGNAL_LISTS = {"accepted": "Accepted", "refused": "Refused at the webhook", "all": "All"}


def signals_listed(user, *, show: str = "accepted") -> QuerySet[Signal]:
    """The user's signals of one ``SIGNAL_LISTS`` kind, newest first (each kind has its own index)."""
    signals = Signal.objects.filter(user=user).order_by("-received_at")
    if show == "accepted":
        return signals.filter(http_status__lt=400)
    if show == "refused":
        return signals.filter(http_status__gte=400)
    return signals


def refused_since(user, since: datetime) -> bool:
    """Whether the webhook refused a request naming ``user`` since ``since``."""
    return signals_listed(user, show="refused").filter(received_at__gte=since).exists()


def markets_of(groups) -> dict:
    """{group id: its market (tick, step) or None}, from the market lists this server already holds (never
    downloading one: for web requests); one connector per exchange account, so one list read per account.
    A market that is not loaded (or no longer listed) is None, and its numbers show as stored."""
    from exchanges.connector import ExchangeError
    from exchanges.models import ExchangeAccount
    from exchanges.services.accounts import connector_for_account

    groups = list(groups)
    loaded = {g.exchange_account_id: g.exchange_account for g in groups if PositionGroup.exchange_account.is_cached(g)}
    accounts = {**ExchangeAccount.objects.in_bulk({g.exchange_account_id for g in groups} - set(loaded)), **loaded}
    connectors, markets = {}, {}
    for group in groups:
        try:
            if group.exchange_account_id not in connectors:
                connectors[group.exchange_account_id] = connector_for_account(accounts[group.exchange_account_id])
            markets[group.pk] = connectors[group.exchange_account_id].loaded_market(group.symbol)
        except ExchangeError:
            markets[group.pk] = None
    return markets
