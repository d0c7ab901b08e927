"""Fill sync: exchange calls and engine CPU of one sync cycle, at 500 and at 10,000 open orders.

The book is the state right after grids were placed: on one paper account, every symbol carries
groups of one pyramid each, five open buy legs at 100, 99, 98, 97 and 96, and the paper exchange
holds the same orders (same client order ids) with their funds reserved. A cycle is what
``sync_fills_task`` dispatches, run here in-process one after another instead of through Celery:
``symbol_sync`` for every symbol with live orders, then ``prices_sync`` for the account.

Each size is measured twice: a quiet cycle (nothing changed on the exchange: the steady state),
then a cycle after a quarter of the symbols dropped to 98.50, filling their 100 and 99 legs (10 %
of all orders), so the cycle also applies fills, evaluates the groups and places the filled legs'
take-profits. It also counts the ``sync_symbol_task`` that ``sync_fills_task``'s own query would
send per beat, which should be one per symbol.

Exchange calls are counted by a subclass of the real PaperConnector; the target is on polls (order
and price state), not on the take-profits a fill makes us place. CPU is ``time.process_time``
of this process, i.e. the engine's Python; PostgreSQL's own work runs in its server processes and
shows only in the wall time. The cycles run with ``DEBUG`` off, as in production: with it on,
Django would also record every query's SQL and timing.
"""

import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection, transaction
from django.test.utils import override_settings
from django.utils import timezone

from exchanges.connector import Balance, ExchangeOrder, Market, Ticker
from exchanges.models import ExchangeAccount, PaperBalance, PaperMarket, PaperOrder, PaperPrice
from exchanges.paper.connector import PaperConnector
from exchanges.paper.services import paper_price_set
from tests.bench import Row, growth_row
from trading.models import Order, PositionGroup, Pyramid, User, client_order_id_for
from trading.selectors import symbols_to_sync
from trading.services.sync import prices_sync, symbol_sync
from trading.states import ORDER_SYNCED_STATUSES

EXCHANGE = "benchsync"
SIZES = ((500, 20), (10_000, 200))  # (open orders, symbols)
LEG_GAPS = (0, -1, -2, -3, -4)  # percent below the entry price; one pyramid of five legs per group
ENTRY_PRICE = Decimal("100")
RESTING_PRICE = Decimal("100.50")  # above every leg: nothing crosses
DROP_PRICE = Decimal("98.50")  # crosses the legs at 100 and 99
DROP_EVERY = 4  # every fourth symbol drops: 1/4 of symbols × 2/5 of legs = 10 % of orders fill
QUIET_REPEATS = 2  # the first quiet cycle also warms the process; the better of the two is reported
TARGET_CPU_S = 1.0
# CPU per order at 10,000 within 1.25× of that at 500 counts as linear: cycle-to-cycle noise on a
# shared machine is some ten per cent, while work growing with orders × symbols would show ×10.
LINEAR_TOLERANCE = 1.25
# Not polling: orders placed or cancelled because legs filled (take-profits; needed however we poll)
# and the market list (tick and step for those orders; ccxt's is cached across processes).
NOT_POLLS = ("create_order", "cancel_order", "load_markets")


class CountingConnector(PaperConnector):
    """The paper exchange, counting every request the engine makes of it (one request per method call)."""

    def __init__(self, account: ExchangeAccount):
        super().__init__(account)
        self.calls: Counter[str] = Counter()

    def load_markets(self, *, reload: bool = False) -> dict[str, Market]:
        if self._markets is None or reload:  # later calls answer from the cache, as ccxt's do
            self.calls["load_markets"] += 1
        return super().load_markets(reload=reload)

    def ticker(self, symbol: str) -> Ticker:
        self.calls["ticker"] += 1
        return super().ticker(symbol)

    def tickers(self, symbols: list[str]) -> dict[str, Ticker]:
        self.calls["tickers"] += 1
        return super().tickers(symbols)

    def create_order(self, **kwargs) -> ExchangeOrder:
        self.calls["create_order"] += 1
        return super().create_order(**kwargs)

    def cancel_order(self, **kwargs) -> ExchangeOrder | None:
        self.calls["cancel_order"] += 1
        return super().cancel_order(**kwargs)

    def fetch_order(self, **kwargs) -> ExchangeOrder:
        self.calls["fetch_order"] += 1
        return super().fetch_order(**kwargs)

    def fetch_open_orders(self, symbol: str) -> list[ExchangeOrder]:
        self.calls["fetch_open_orders"] += 1
        return super().fetch_open_orders(symbol)

    def fetch_closed_orders(self, symbol: str, since: datetime | None = None) -> list[ExchangeOrder]:
        self.calls["fetch_closed_orders"] += 1
        return super().fetch_closed_orders(symbol, since=since)

    def balance(self) -> Balance:
        self.calls["balance"] += 1
        return super().balance()

    @property
    def polls(self) -> int:
        """Requests asking for order or price state: what fill sync is about."""
        return sum(n for name, n in self.calls.items() if name not in NOT_POLLS)


@dataclass(frozen=True)
class Cycle:
    live_orders: int  # what per-order polling would ask about
    symbols: int
    changed_groups: int
    calls: Counter
    max_polls_per_symbol: int
    queries: int
    cpu_s: float
    wall_s: float

    @property
    def polls(self) -> int:
        return sum(n for name, n in self.calls.items() if name not in NOT_POLLS)


def _setup(orders: int, symbols: int) -> ExchangeAccount:
    """One paper account whose ``symbols`` each hold ``orders / symbols`` open entry legs, placed and reserved."""
    user, _ = User.objects.get_or_create(username="bench-sync")
    account, _ = ExchangeAccount.objects.get_or_create(
        user=user, exchange_id=EXCHANGE, defaults={"price_feed": "manual", "mode": "paper"}
    )
    PositionGroup.objects.filter(exchange_account=account).delete()  # pyramids and orders cascade
    PaperOrder.objects.filter(account=account).delete()
    PaperBalance.objects.filter(account=account).delete()
    PaperMarket.objects.filter(exchange_id=EXCHANGE).delete()
    PaperPrice.objects.filter(exchange_id=EXCHANGE).delete()

    names = [f"S{i:03d}/USDT" for i in range(symbols)]
    groups_per_symbol = orders // symbols // len(LEG_GAPS)
    PaperMarket.objects.bulk_create(
        PaperMarket(
            exchange_id=EXCHANGE,
            symbol=s,
            market_id=s.replace("/", ""),
            base=s.split("/")[0],
            quote="USDT",
            tick_size=Decimal("0.01"),
            step_size=Decimal("0.001"),
        )
        for s in names
    )
    PaperPrice.objects.bulk_create(PaperPrice(exchange_id=EXCHANGE, symbol=s, price=RESTING_PRICE) for s in names)
    # The orders are inserted directly, so hold their funds by hand as placement would have.
    PaperBalance.objects.bulk_create(
        PaperBalance(account=account, asset=asset, used=Decimal("1e9"))
        for asset in ["USDT", *(s.split("/")[0] for s in names)]
    )

    levels = [{"gap_percent": str(gap), "weight_percent": "20", "tp_percent": "2"} for gap in LEG_GAPS]
    legs = [(gap, (ENTRY_PRICE * (100 + gap) / 100).quantize(Decimal("0.01"))) for gap in LEG_GAPS]
    now = timezone.now()
    groups, pyramids, entries = [], [], []
    for symbol in names:
        for timeframe in range(1, groups_per_symbol + 1):
            group = PositionGroup(
                id=uuid.uuid4(),
                user=user,
                exchange_account=account,
                exchange=EXCHANGE,
                symbol=symbol,
                timeframe=timeframe,
                side="long",
                status="live",
                config_snapshot={"levels": levels},
                pyramid_count=1,
                max_pyramids=5,
                total_dca_legs=len(legs),
                base_entry_price=ENTRY_PRICE,
                tp_mode="per_leg",
            )
            pyramid = Pyramid(
                id=uuid.uuid4(),
                group=group,
                index=0,
                entry_price=ENTRY_PRICE,
                status="submitted",
                levels=levels,
                capital_usd=sum(price for _, price in legs),
            )
            groups.append(group)
            pyramids.append(pyramid)
            for leg_index, (gap, price) in enumerate(legs):
                order_id = uuid.uuid4()
                entries.append(
                    Order(
                        id=order_id,
                        client_order_id=client_order_id_for(order_id),
                        group=group,
                        pyramid=pyramid,
                        role="entry",
                        leg_index=leg_index,
                        symbol=symbol,
                        side="buy",
                        order_type="limit",
                        price=price,
                        quantity=Decimal(1),
                        status="open",
                        gap_percent=gap,
                        weight_percent=Decimal(20),
                        tp_percent=Decimal(2),
                        tp_price=(price * Decimal("1.02")).quantize(Decimal("0.01")),
                        submitted_at=now,
                    )
                )
    book = [
        PaperOrder(
            account=account,
            exchange_id=EXCHANGE,
            symbol=o.symbol,
            client_order_id=o.client_order_id,
            side="buy",
            order_type="limit",
            price=o.price,
            amount=o.quantity,
        )
        for o in entries
    ]
    with transaction.atomic():
        PaperOrder.objects.bulk_create(book, batch_size=2000)  # PostgreSQL returns the ids
        for order, paper in zip(entries, book, strict=True):
            order.exchange_order_id = str(paper.pk)  # placement stores the exchange's id
        PositionGroup.objects.bulk_create(groups, batch_size=2000)
        Pyramid.objects.bulk_create(pyramids, batch_size=2000)
        Order.objects.bulk_create(entries, batch_size=2000)
    return account


def _cycle(account: ExchangeAccount) -> Cycle:
    """What one beat of ``sync_fills_task`` sets off for this account, run in this process."""
    connector = CountingConnector(account)
    queries = 0

    def count(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    live_orders = Order.objects.filter(group__exchange_account=account, status__in=ORDER_SYNCED_STATUSES).count()
    per_symbol = []
    with override_settings(DEBUG=False), connection.execute_wrapper(count):
        cpu, wall = time.process_time(), time.perf_counter()
        # order_by(): without it Order's default ordering puts created_at into the DISTINCT (see
        # _dispatched_by_beat), and every order would get a sync of its own.
        symbols = list(
            Order.objects.filter(group__exchange_account=account, status__in=ORDER_SYNCED_STATUSES)
            .order_by()
            .values_list("symbol", flat=True)
            .distinct()
        )
        changed = 0
        for symbol in symbols:
            before = connector.polls
            changed += symbol_sync(account_id=account.pk, symbol=symbol, connector=connector)
            per_symbol.append(connector.polls - before)
        prices_sync(account_id=account.pk, connector=connector)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return Cycle(
        live_orders=live_orders,
        symbols=len(symbols),
        changed_groups=changed,
        calls=connector.calls,
        max_polls_per_symbol=max(per_symbol, default=0),
        queries=queries,
        cpu_s=cpu,
        wall_s=wall,
    )


def _dispatched_by_beat(account: ExchangeAccount) -> int:
    """How many ``sync_symbol_task`` one beat of ``sync_fills_task`` sends for this account: its own query."""
    return len(symbols_to_sync(account))


def _fill_some(account: ExchangeAccount) -> int:
    """Drop every fourth symbol's price to 98.50 on the paper exchange; returns the orders it filled."""
    names = sorted(PaperMarket.objects.filter(exchange_id=EXCHANGE).values_list("symbol", flat=True))
    return sum(paper_price_set(exchange_id=EXCHANGE, symbol=s, price=DROP_PRICE).fills for s in names[::DROP_EVERY])


def _calls_text(cycle: Cycle) -> str:
    polls = ", ".join(f"{n} {name}" for name, n in sorted(cycle.calls.items()) if name not in NOT_POLLS)
    others = ", ".join(f"{cycle.calls[name]} {name}" for name in NOT_POLLS if cycle.calls[name])
    return f"{cycle.polls} polls ({polls}; max {cycle.max_polls_per_symbol} per symbol)" + (
        f", besides {others} for take-profits" if others else ""
    )


def run() -> list[Row]:
    rows, cpu_per_order = [], []
    for orders, symbols in SIZES:
        account = _setup(orders, symbols)
        label = f"{orders:,} open orders / {symbols} symbols"
        dispatched = _dispatched_by_beat(account)
        rows.append(
            Row(
                "fill sync",
                f"sync_symbol_task sent per beat by sync_fills_task, {label}",
                f"{dispatched:,}",
                f"one per symbol ({symbols})",
                dispatched == symbols,
            )
        )
        quiet = min((_cycle(account) for _ in range(QUIET_REPEATS)), key=lambda c: c.cpu_s)
        filled = _fill_some(account)
        busy = _cycle(account)
        share = f"{filled} of {busy.live_orders:,} orders ({filled / busy.live_orders:.0%}) filled since the last cycle"
        call_limit = 2 * busy.symbols + 1  # open + closed per symbol, one tickers call per account
        rows.append(
            Row(
                "fill sync",
                f"exchange calls per cycle, {label}, {share}",
                f"{_calls_text(busy)}; per-order polling: {busy.live_orders:,}",
                f"polls ≤ 2 per symbol + 1 tickers per account (≤ {call_limit})",
                busy.polls <= call_limit and busy.max_polls_per_symbol <= 2,
            )
        )
        for kind, cycle in (("nothing changed", quiet), (share, busy)):
            target_met = cycle.cpu_s <= TARGET_CPU_S if orders == SIZES[0][0] else None
            rows.append(
                Row(
                    "fill sync",
                    f"CPU of one cycle, {label}, {kind} ({cycle.changed_groups} groups changed)",
                    f"{cycle.cpu_s:.2f} s CPU ({cycle.cpu_s / cycle.live_orders * 1000:.2f} ms/order), "
                    f"wall {cycle.wall_s:.2f} s, {cycle.queries:,} queries",
                    f"≤ {TARGET_CPU_S:g} s" if target_met is not None else "— (growth below)",
                    target_met,
                )
            )
        cpu_per_order.append(busy.cpu_s / busy.live_orders)
    (small, _), (large, _) = SIZES
    rows.append(
        growth_row(
            "fill sync",
            per="order",
            cycle="the cycle with fills",
            sizes=(small, large),
            costs=cpu_per_order,
            tolerance=LINEAR_TOLERANCE,
        )
    )
    return rows
