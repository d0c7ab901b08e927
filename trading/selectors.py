"""Read queries of the trading app."""

import time as clock
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, NullIf, TruncDate
from django.utils import timezone

from exchanges.account_choice import describe
from exchanges.services.derivatives import preview_leverage_tiers
from trading.liquidation import PreviewTiers
from trading.models import DCAConfiguration, Order, PositionGroup, Pyramid, QueuedSignal, RiskConfig, Signal, User
from trading.states import GROUP_ACTIVE_STATUSES, ORDER_MAY_STILL_FILL, ORDER_SYNCED_STATUSES, GroupStatus

if TYPE_CHECKING:
    from typing import TypeAlias, TypedDict

    from django_stubs_ext import WithAnnotations

    class ExitOrdersPrefetch(TypedDict):
        prefetched_exit_orders: list[Order]  # the group's orders of no pyramid (exits), oldest first

    # A group of positions_queryset, as django-stubs' plugin types its Prefetch(to_attr=...).
    PositionRow: TypeAlias = WithAnnotations[PositionGroup, ExitOrdersPrefetch]


def groups_of(user) -> QuerySet[PositionGroup]:
    """The user's position groups, any status: every lookup by id goes through here, so another trader's id is a 404."""
    return PositionGroup.objects.filter(user=user)


def has_positions(user) -> bool:
    """Whether the user ever had a position (open or not): the overview's "no trades yet" hint."""
    return groups_of(user).exists()


def active_groups(user) -> QuerySet[PositionGroup]:
    return PositionGroup.objects.filter(user=user, status__in=[s.value for s in GROUP_ACTIVE_STATUSES])


def groups_on_symbol(account_id, symbol: str) -> QuerySet[PositionGroup]:
    """The engine's non-terminal groups on one account and symbol, either side: they share its leverage and
    margin mode (set per account and symbol on the exchange)."""
    return PositionGroup.objects.filter(
        exchange_account_id=account_id, symbol=symbol, status__in=[s.value for s in GROUP_ACTIVE_STATUSES]
    )


def risk_config_of(user) -> RiskConfig:
    """The user's pool, queue and risk settings row, created with the defaults when missing (a read-or-create:
    no lock; ``trading.locks.lock_user_routing`` takes the row for update)."""
    risk, _ = RiskConfig.objects.get_or_create(user=user)
    return risk


def dca_configs_of(user) -> QuerySet[DCAConfiguration]:
    """The user's DCA configurations by exchange, pair and timeframe (the settings page's and the API's order)."""
    return DCAConfiguration.objects.filter(user=user).order_by("exchange", "pair", "timeframe", "pk")


def dca_configuration_clash(config: DCAConfiguration) -> str | None:
    """The message for an existing configuration of the same user, exchange, pair and timeframe, if any."""
    others = DCAConfiguration.objects.filter(
        user_id=config.user_id, exchange=config.exchange, pair=config.pair, timeframe=config.timeframe
    )
    if config.pk is not None:
        others = others.exclude(pk=config.pk)
    existing = others.first()
    if existing is None:
        return None
    return (
        f"You already have a DCA configuration for {existing} (id {existing.pk}): edit that one, "
        f"or pick another exchange, pair or timeframe."
    )


def dca_config_for(*, user, exchange: str, symbol: str, timeframe: int) -> DCAConfiguration | None:
    """Specific (pair, timeframe), then the pair on any timeframe, then the exchange default ``*``."""
    pairs = [symbol] + ([symbol.split(":")[0]] if ":" in symbol else [])
    candidates = DCAConfiguration.objects.filter(
        user=user, exchange=exchange, is_active=True, pair__in=[*pairs, "*"]
    ).filter(Q(timeframe=timeframe) | Q(timeframe__isnull=True))
    ranked = sorted(
        candidates, key=lambda c: (c.pair == "*", c.timeframe is None, pairs.index(c.pair) if c.pair in pairs else 0)
    )
    return ranked[0] if ranked else None


def preview_tiers(user, config: DCAConfiguration) -> PreviewTiers | None:
    """The leverage tiers a DCA preview uses: those the trader's swap account on the configuration's exchange
    was given for its pair (cached when the engine last read them; a page never asks the exchange), with where
    they came from; None for the default table (no swap account, pair ``*``, or none read yet)."""
    found = preview_leverage_tiers(user, config.exchange, config.pair)
    if found is None:
        return None
    tiers, account = found
    return tiers, f"{describe(account)}'s leverage tiers for {config.pair}, as the exchange gave them"


def committed_exposure_usd(user) -> Decimal:
    """Capital the user's active groups have committed: the capital of each of their live pyramids."""
    total = (
        Pyramid.objects.filter(group__in=active_groups(user))
        .exclude(status=Pyramid.Status.FAILED)
        .aggregate(total=Sum("capital_usd"))["total"]
    )
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
        .annotate(day=TruncDate("closed_at", tzinfo=zone))
        .values("day")
        .annotate(total=_REALIZED_USD)
        .order_by("day")
    )
    totals = {row["day"]: row["total"] for row in rows}
    return [(day, totals.get(day) or Decimal(0)) for day in (first + timedelta(days=n) for n in range(days))]


def realized_loss_today_usd(user) -> Decimal:
    """Net realised loss (positive number) of groups closed since midnight in the user's time zone."""
    return max(-realized_pnl_today_usd(user), Decimal(0))


def orders_to_cancel(group: PositionGroup) -> QuerySet[Order]:
    """Entry and take-profit orders of a group that may still rest on (or reach) the exchange."""
    return group.orders.filter(
        role__in=[Order.Role.ENTRY, Order.Role.TAKE_PROFIT], status__in=ORDER_MAY_STILL_FILL
    ).order_by("created_at")


def symbols_to_sync(account=None) -> list[tuple[int, str]]:
    """(exchange account id, symbol) pairs with live orders: one fill-sync task each per cycle."""
    orders = Order.objects.filter(status__in=ORDER_SYNCED_STATUSES)
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
    user = (
        User.objects.only("id", "webhook_secret", "replay_window_seconds", "dedupe_window_seconds")
        .filter(pk=pk, is_active=True)
        .first()
    )
    if len(_webhook_users) >= WEBHOOK_USER_CACHE_SIZE:
        _webhook_users.clear()
    _webhook_users[pk] = (user, now + WEBHOOK_USER_CACHE_SECONDS)
    return user


def forget_webhook_user(pk) -> None:
    _webhook_users.pop(uuid.UUID(str(pk)), None)


def positions_queryset(user) -> "QuerySet[PositionRow]":
    """The user's groups with pyramids, their orders and the group's exits prefetched: 4 queries per page."""
    ordered_orders = Order.objects.order_by("created_at", "leg_index")
    return (
        PositionGroup.objects.filter(user=user)
        .prefetch_related(
            Prefetch(
                "pyramids",
                queryset=Pyramid.objects.order_by("index").prefetch_related(
                    Prefetch("orders", queryset=ordered_orders)
                ),
            ),
            Prefetch("orders", queryset=ordered_orders.filter(pyramid__isnull=True), to_attr="prefetched_exit_orders"),
        )
        .order_by("-created_at")
    )


def positions_of(
    user,
    *,
    statuses: list[str] | None = None,
    exchange: str = "",
    symbol: str = "",
    filters: "TradeFilters | None" = None,
) -> QuerySet[PositionGroup]:
    """The user's groups as ``positions_queryset`` gives them, narrowed to ``statuses`` (None: any), an exchange
    id, a symbol (case-insensitive) and the trade history's ``filters``; an empty value filters nothing."""
    groups = positions_queryset(user)
    if statuses is not None:
        groups = groups.filter(status__in=statuses)
    if exchange:
        groups = groups.filter(exchange=exchange.lower())
    if symbol:
        groups = groups.filter(symbol__iexact=symbol)
    return groups_filtered(groups, user, filters) if filters is not None else groups


def orders_of(
    user, *, statuses: list[str] | None = None, roles: list[str] | None = None, symbol: str = "", group_id=None
) -> QuerySet[Order]:
    """Every order placed for the user, newest first, narrowed to ``statuses``, ``roles`` (None: any), a symbol
    (case-insensitive) and one group's orders."""
    orders = Order.objects.filter(group__user=user).order_by("-created_at")
    if statuses is not None:
        orders = orders.filter(status__in=statuses)
    if roles is not None:
        orders = orders.filter(role__in=roles)
    if symbol:
        orders = orders.filter(symbol__iexact=symbol)
    if group_id is not None:
        orders = orders.filter(group_id=group_id)
    return orders


def signals_of(user, *, statuses: list[str] | None = None, intents: list[str] | None = None) -> QuerySet[Signal]:
    """The user's signals, newest first, narrowed to ``statuses`` and ``intents`` (None: any)."""
    signals = Signal.objects.filter(user=user).order_by("-received_at")
    if statuses is not None:
        signals = signals.filter(status__in=statuses)
    if intents is not None:
        signals = signals.filter(intent__in=intents)
    return signals


def queue_entries_of(user) -> QuerySet[QueuedSignal]:
    """The user's queue entries, any status: every lookup by id goes through here."""
    return QueuedSignal.objects.filter(user=user)


def queue_waiting(user) -> QuerySet[QueuedSignal]:
    """The entries waiting now, oldest first."""
    return queue_entries_of(user).filter(status=QueuedSignal.Status.QUEUED).order_by("queued_at")


def queue_history(user, *, statuses: list[str] | None = None) -> QuerySet[QueuedSignal]:
    """The entries of ``statuses``, newest first; by default every entry that has left the queue."""
    entries = queue_entries_of(user)
    if statuses is None:
        entries = entries.exclude(status=QueuedSignal.Status.QUEUED)
    else:
        entries = entries.filter(status__in=statuses)
    return entries.order_by("-queued_at")


# What the signals page lists: the alerts the webhook accepted (whatever routing then did with them),
# the requests it refused (400-422: bad JSON, wrong secret, invalid alert), or both. Accepted is the
# default, so junk posted to a trader's URL never pushes their real alerts off the page.
SIGNAL_LISTS = {"accepted": "Accepted", "refused": "Refused at the webhook", "all": "All"}


def signals_listed(user, *, show: str = "accepted") -> QuerySet[Signal]:
    """The user's signals of one ``SIGNAL_LISTS`` kind, newest first (each kind has its own index)."""
    signals = signals_of(user)
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
    from exchanges.connector import Connector, ExchangeError, Market
    from exchanges.models import ExchangeAccount
    from exchanges.services.accounts import connector_for_account

    groups = list(groups)
    loaded = {g.exchange_account_id: g.exchange_account for g in groups if PositionGroup.exchange_account.is_cached(g)}
    accounts = {**ExchangeAccount.objects.in_bulk({g.exchange_account_id for g in groups} - set(loaded)), **loaded}
    connectors: dict[int, Connector] = {}
    markets: dict[uuid.UUID, Market | None] = {}
    for group in groups:
        try:
            if group.exchange_account_id not in connectors:
                connectors[group.exchange_account_id] = connector_for_account(accounts[group.exchange_account_id])
            markets[group.pk] = connectors[group.exchange_account_id].loaded_market(group.symbol)
        except ExchangeError:
            markets[group.pk] = None
    return markets


# --- Trade history: closed positions -------------------------------------------------------------------


@dataclass(frozen=True)
class TradeFilters:
    """What the closed-trades page, its CSV export and the positions API filter on; empty means any.

    ``closed_from`` and ``closed_to`` are calendar days in the trader's time zone, both included.
    """

    exchange_account_id: int | None = None
    symbol: str = ""
    side: str = ""
    exit_reason: str = ""
    closed_from: date | None = None
    closed_to: date | None = None


NO_FILTERS = TradeFilters()  # frozen: one instance serves every caller


def _midnight(day: date, user) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(user.time_zone or "UTC"))


def groups_filtered(groups: QuerySet[PositionGroup], user, filters: TradeFilters) -> QuerySet[PositionGroup]:
    """``groups`` narrowed by ``filters`` (one definition for the page, the CSV and the API)."""
    if filters.exchange_account_id is not None:
        groups = groups.filter(exchange_account_id=filters.exchange_account_id)
    if filters.symbol:
        groups = groups.filter(symbol__iexact=filters.symbol)
    if filters.side:
        groups = groups.filter(side=filters.side)
    if filters.exit_reason:
        groups = groups.filter(exit_reason=filters.exit_reason)
    if filters.closed_from:
        groups = groups.filter(closed_at__gte=_midnight(filters.closed_from, user))
    if filters.closed_to:
        groups = groups.filter(closed_at__lt=_midnight(filters.closed_to + timedelta(days=1), user))
    return groups


_QUANTITY = DecimalField(max_digits=40, decimal_places=12)
_VALUE = DecimalField(max_digits=60, decimal_places=24)
_FILLED_ENTRIES = Q(orders__role=Order.Role.ENTRY, orders__filled_quantity__gt=0)
# Take-profits and market exits: every fill that sold (long) or bought back (short) what the entries held.
_FILLED_EXITS = Q(orders__role__in=[Order.Role.TAKE_PROFIT, Order.Role.EXIT], orders__filled_quantity__gt=0)
# A fill's price: its average, or the order's own price when the exchange reported no average.
_FILL_VALUE = F("orders__filled_quantity") * Coalesce("orders__avg_fill_price", "orders__price")


def _average(value: str, quantity: str) -> ExpressionWrapper:
    return ExpressionWrapper(F(value) / NullIf(F(quantity), Decimal(0)), output_field=_VALUE)


def closed_trades(user, filters: TradeFilters = NO_FILTERS) -> QuerySet[PositionGroup]:
    """The trader's closed positions matching ``filters``, last closed first, each annotated with what the
    trade history shows: ``entry_quantity`` and ``entry_average`` (every entry fill, volume-weighted),
    ``exit_quantity`` and ``exit_average`` (every take-profit and exit fill), ``realized_usd`` (the
    realised PnL at the group's USD rate; null while the rate is unknown). Prices and PnL are in the
    group's quote currency. One query for any number of rows (the orders are summed in SQL).
    """
    groups = PositionGroup.objects.filter(user=user, status=GroupStatus.CLOSED)
    return (
        groups_filtered(groups, user, filters)
        .select_related("exchange_account")
        # The ladder snapshot is not shown, and the account's keys must not be decrypted for every row.
        .defer(
            "config_snapshot",
            "exchange_account__api_key",
            "exchange_account__api_secret",
            "exchange_account__api_password",
        )
        .annotate(
            entry_quantity=Sum("orders__filled_quantity", filter=_FILLED_ENTRIES, output_field=_QUANTITY),
            entry_value=Sum(_FILL_VALUE, filter=_FILLED_ENTRIES, output_field=_VALUE),
            exit_quantity=Sum("orders__filled_quantity", filter=_FILLED_EXITS, output_field=_QUANTITY),
            exit_value=Sum(_FILL_VALUE, filter=_FILLED_EXITS, output_field=_VALUE),
        )
        .annotate(
            entry_average=_average("entry_value", "entry_quantity"),
            exit_average=_average("exit_value", "exit_quantity"),
            realized_usd=ExpressionWrapper(F("realized_pnl_usd") * F("quote_usd_rate"), output_field=_VALUE),
        )
        .order_by("-closed_at", "-created_at")
    )


@dataclass(frozen=True)
class TradeTotals:
    """The closed trades matching a filter, in USD (at each group's rate); ``unpriced`` have no USD rate yet
    and are left out of the USD sums."""

    count: int
    won: int
    lost: int
    realized_usd: Decimal
    fees_usd: Decimal
    unpriced: int


def closed_trades_totals(user, filters: TradeFilters) -> TradeTotals:
    groups = groups_filtered(PositionGroup.objects.filter(user=user, status=GroupStatus.CLOSED), user, filters)
    priced = Q(quote_usd_rate__isnull=False)
    totals = groups.aggregate(
        count=Count("pk"),
        won=Count("pk", filter=Q(realized_pnl_usd__gt=0)),
        lost=Count("pk", filter=Q(realized_pnl_usd__lt=0)),
        realized=_REALIZED_USD,
        fees=Sum(F("fees_usd") * F("quote_usd_rate"), filter=priced),
        unpriced=Count("pk", filter=~priced),
    )
    return TradeTotals(
        totals["count"],
        totals["won"],
        totals["lost"],
        totals["realized"] or Decimal(0),
        totals["fees"] or Decimal(0),
        totals["unpriced"],
    )


def closed_trades_pnl_by_day(user, filters: TradeFilters) -> list[tuple[date, Decimal]]:
    """Realised PnL in USD of the matching closed trades per day they closed (trader's time zone), oldest
    first; days without a close are left out (the chart fills them)."""
    zone = ZoneInfo(user.time_zone or "UTC")
    groups = groups_filtered(PositionGroup.objects.filter(user=user, status=GroupStatus.CLOSED), user, filters)
    rows = (
        groups.annotate(day=TruncDate("closed_at", tzinfo=zone))
        .values("day")
        .annotate(total=_REALIZED_USD)
        .order_by("day")
    )
    return [(row["day"], row["total"] or Decimal(0)) for row in rows]


def closed_trade_symbols(user) -> list[str]:
    """The symbols the trader has closed trades on, for the history's symbol filter."""
    return list(
        PositionGroup.objects.filter(user=user, status=GroupStatus.CLOSED)
        .order_by("symbol")
        .values_list("symbol", flat=True)
        .distinct()
    )
