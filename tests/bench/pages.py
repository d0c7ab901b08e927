"""Dashboard pages: server time and SQL queries per page with a realistic book of positions.

The book is bulk-inserted: traders (one owning 85 % of the groups, three sharing the rest), each
with a paper account, position groups in realistic statuses (about two thirds closed over the last
month, some failed, the rest waiting on the exchange, partly or fully filled, or closing), one to three
pyramids per group with five entry legs each, a take-profit per filled leg, a market exit per closed
group, one signal per group and a few queue entries. The order count is trimmed to exactly 20 per group
by dropping cancelled take-profits of closed groups.

Each page is requested through Django's test client (the whole WSGI stack: middleware, session, auth,
view, templates; no network), logged in as the main trader, ``DEBUG`` off: 3 warm-up requests, then
``REQUESTS`` timed ones, p50 and p95 of the wall time, and the p50 of this process's CPU time (PostgreSQL's
work is in its own processes: it shows in the wall time only). On a shared machine the wall time swings with
the load; the CPU time much less.

The measured trader has about 250 open positions: far past the default pool of 10, so the overview's table is
measured at a size a real book would not reach. Queries are counted on one request (after a first
one, which may create the trader's Telegram row) at each of two sizes (100 groups / 2,000 orders and
1,000 / 20,000): a page whose count grows with the book has an N+1 query somewhere.
"""

import statistics
import time
import uuid
from datetime import timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.test import Client
from django.test.utils import override_settings
from django.urls import reverse
from django.utils import timezone

from exchanges.models import ExchangeAccount
from tests.bench import Row
from trading.models import Order, PositionGroup, Pyramid, QueuedSignal, RiskConfig, Signal, User, client_order_id_for
from trading.states import GROUP_ACTIVE_STATUSES

SIZES = ((100, 2_000), (1_000, 20_000))  # (position groups, orders)
MAIN_SHARE = Decimal("0.85")  # of the groups, owned by the trader whose pages are measured
OTHER_TRADERS = 3
REQUESTS = 30
WARM_UP = 3
TARGET_P95_MS = 150
USERNAME_PREFIX = "bench-pages-"

LEGS_PER_PYRAMID = 5
GAPS = (Decimal("0"), Decimal("-0.5"), Decimal("-1"), Decimal("-1.5"), Decimal("-2"))
LEVELS = [{"gap_percent": str(gap), "weight_percent": "20", "tp_percent": "2"} for gap in GAPS]
PYRAMIDS = (1, 2, 3, 2, 3)  # cycled over the groups
# One cycle of 20 groups: 13 closed, 1 failed and 6 still open in the states the engine moves through.
STATUSES = ("closed",) * 13 + ("failed", "closing", "waiting", "live", "partially_filled", "partially_filled", "active")
# Distinct (symbol, timeframe, side) for the open groups: one open group per identity is allowed.
SYMBOLS = 60
TIMEFRAMES = (5, 15, 60, 240)
SIDES = ("long", "short")
CAPITAL = Decimal("1000")


def _identity(n: int) -> tuple[str, int, str]:
    symbol = f"C{n % SYMBOLS:02d}/USDT"
    return symbol, TIMEFRAMES[(n // SYMBOLS) % len(TIMEFRAMES)], SIDES[(n // (SYMBOLS * len(TIMEFRAMES))) % len(SIDES)]


def _group_rows(user: User, account: ExchangeAccount, number: int, open_number: int, now):
    """One group with its pyramids and orders (unsaved), in the state ``STATUSES`` gives its number."""
    status = STATUSES[number % len(STATUSES)]
    is_open = status in {s.value for s in GROUP_ACTIVE_STATUSES}
    symbol, timeframe, side = _identity(open_number if is_open else number)
    pyramid_count = PYRAMIDS[number % len(PYRAMIDS)]
    base = Decimal(100 + number % 50)
    entry_side, exit_side = ("buy", "sell") if side == "long" else ("sell", "buy")
    direction = 1 if side == "long" else -1
    closed_at = now - timedelta(days=number % 30, minutes=number % 600) if status == "closed" else None
    group = PositionGroup(
        id=uuid.uuid4(),
        user=user,
        exchange_account=account,
        exchange=account.exchange_id,
        symbol=symbol,
        timeframe=timeframe,
        side=side,
        status=status,
        config_snapshot={"levels": LEVELS, "stop_loss_percent": "5"},
        pyramid_count=pyramid_count,
        max_pyramids=5,
        total_dca_legs=pyramid_count * LEGS_PER_PYRAMID,
        base_entry_price=base,
        tp_mode="per_leg",
        closed_at=closed_at,
        exit_reason="take_profit" if status == "closed" else "",
        status_reason="The exchange refused the orders: insufficient balance." if status == "failed" else "",
    )
    pyramids, orders = [], []
    filled_legs, invested, quantity_held = 0, Decimal(0), Decimal(0)
    for index in range(pyramid_count):
        entry = base * (1 - direction * Decimal(index) / 100)
        pyramid = Pyramid(
            id=uuid.uuid4(),
            group=group,
            index=index,
            entry_price=entry,
            levels=LEVELS,
            capital_usd=CAPITAL,
            status={
                "closed": "closed",
                "failed": "failed",
                "waiting": "pending",
                "live": "submitted",
                "partially_filled": "partially_filled",
            }.get(status, "filled"),
        )
        pyramids.append(pyramid)
        for leg, gap in enumerate(GAPS):
            price = (entry * (1 + direction * gap / 100)).quantize(Decimal("0.01"))
            quantity = (CAPITAL / LEGS_PER_PYRAMID / price).quantize(Decimal("0.001"))
            filled = status in ("closed", "closing", "active") or (status == "partially_filled" and leg < 2)
            leg_status = "filled" if filled else {"failed": "failed", "waiting": "pending"}.get(status, "open")
            if status == "closed" or status == "closing":
                leg_status = "filled"
            order = Order(
                id=uuid.uuid4(),
                group=group,
                pyramid=pyramid,
                role="entry",
                leg_index=leg,
                symbol=symbol,
                side=entry_side,
                order_type="limit",
                price=price,
                quantity=quantity,
                status=leg_status,
                filled_quantity=quantity if filled else 0,
                avg_fill_price=price if filled else None,
                gap_percent=gap,
                weight_percent=Decimal(20),
                tp_percent=Decimal(2),
                tp_price=(price * (1 + direction * Decimal("0.02"))).quantize(Decimal("0.01")),
                filled_at=now - timedelta(hours=leg + 1) if filled else None,
                error_message="Insufficient balance." if leg_status == "failed" else "",
            )
            order.client_order_id = client_order_id_for(order.id)
            orders.append(order)
            if not filled:
                continue
            filled_legs += 1
            invested += price * quantity
            quantity_held += quantity
            tp_filled = status == "closed" and leg < 2
            tp_status = {"closed": "filled" if tp_filled else "cancelled", "closing": "cancelled"}.get(status, "open")
            take_profit = Order(
                id=uuid.uuid4(),
                group=group,
                pyramid=pyramid,
                role="take_profit",
                entry_order=order,
                symbol=symbol,
                side=exit_side,
                order_type="limit",
                price=order.tp_price,
                quantity=quantity,
                status=tp_status,
                filled_quantity=quantity if tp_filled else 0,
                avg_fill_price=order.tp_price if tp_filled else None,
                filled_at=now - timedelta(minutes=30) if tp_filled else None,
            )
            take_profit.client_order_id = client_order_id_for(take_profit.id)
            orders.append(take_profit)
    if status in ("closed", "closing"):
        done = status == "closed"
        exit_order = Order(
            id=uuid.uuid4(),
            group=group,
            role="exit",
            symbol=symbol,
            side=exit_side,
            order_type="market",
            quantity=quantity_held,
            status="filled" if done else "open",
            filled_quantity=quantity_held if done else 0,
            avg_fill_price=base * (1 + direction * Decimal("0.01")) if done else None,
            exit_reason="take_profit",
            filled_at=now - timedelta(minutes=10) if done else None,
        )
        exit_order.client_order_id = client_order_id_for(exit_order.id)
        orders.append(exit_order)
    average = invested / quantity_held if quantity_held else None
    group.filled_dca_legs = filled_legs
    group.weighted_avg_entry = average
    group.total_invested_usd = invested
    group.total_filled_quantity = 0 if status == "closed" else quantity_held
    group.current_price = base * (1 + direction * Decimal("0.005") * (number % 7 - 3))
    if average and status != "closed":
        group.unrealized_pnl_usd = (group.current_price - average) * quantity_held * direction
        group.unrealized_pnl_percent = (group.current_price / average - 1) * 100 * direction
    if status == "closed":
        group.realized_pnl_usd = invested * Decimal("0.01") * (1 if number % 3 else -2)
    signal = Signal(
        user=user,
        status="opened" if status != "failed" else "failed",
        intent="signal",
        exchange=account.exchange_id,
        tv_symbol=symbol.replace("/", ""),
        symbol=symbol,
        timeframe=timeframe,
        side=side,
        entry_price=base,
        position_group=group,
        reason="Opened pyramid 1.",
        payload={"tv": {"symbol": symbol.replace("/", ""), "entry_price": str(base)}},
    )
    return group, pyramids, orders, signal, is_open


def book_add(users: list[User], *, groups: int, orders: int, main_share: Decimal = MAIN_SHARE) -> None:
    """Bulk-insert ``groups`` position groups with exactly ``orders`` orders (if the statuses give at least
    that many) for ``users``: the first gets ``main_share`` of them, the rest split what is left.
    Can be called again to grow the same traders' books."""
    now = timezone.now()
    main = round(groups * main_share)
    shares = [main] + [(groups - main) // max(len(users) - 1, 1)] * (len(users) - 1)
    shares[-1] += groups - sum(shares)
    all_groups, all_pyramids, all_orders, all_signals, queue = [], [], [], [], []
    for user, share in zip(users, shares, strict=True):
        account = ExchangeAccount.objects.get(user=user, exchange_id="binance")
        number = PositionGroup.objects.filter(user=user).count()
        open_number = PositionGroup.objects.filter(
            user=user, status__in=[s.value for s in GROUP_ACTIVE_STATUSES]
        ).count()
        for _ in range(share):
            group, pyramids, group_orders, signal, is_open = _group_rows(user, account, number, open_number, now)
            number += 1
            open_number += is_open
            all_groups.append(group)
            all_pyramids += pyramids
            all_orders += group_orders
            all_signals.append(signal)
        queued = QueuedSignal.objects.filter(user=user).count()
        for n in range(queued, queued + 6):
            signal = Signal(
                user=user,
                status="queued",
                intent="signal",
                exchange="binance",
                tv_symbol=f"Q{n}USDT",
                symbol=f"Q{n}/USDT",
                timeframe=15,
                side="long",
                entry_price=Decimal(50),
            )
            all_signals.append(signal)
            waiting = n % 3 == 0  # a third still waiting, the rest the history
            queue.append(
                QueuedSignal(
                    user=user,
                    signal=signal,
                    exchange="binance",
                    symbol=f"Q{n}/USDT",
                    timeframe=15,
                    side="long",
                    entry_price=Decimal(50),
                    status="queued" if waiting else "expired",
                    expires_at=now + timedelta(hours=1),
                    status_reason="Pool full: 10 of 10 open.",
                    replacement_count=n % 4,
                )
            )
    excess = len(all_orders) - orders
    if excess > 0:  # cancelled take-profits of closed groups: nothing else points at them
        dropped = set()
        for order in all_orders:
            if len(dropped) == excess:
                break
            if order.role == "take_profit" and order.status == "cancelled" and order.group.status == "closed":
                dropped.add(order.id)
        all_orders = [order for order in all_orders if order.id not in dropped]
    with transaction.atomic():
        PositionGroup.objects.bulk_create(all_groups, batch_size=2000)
        Pyramid.objects.bulk_create(all_pyramids, batch_size=2000)
        Order.objects.bulk_create([o for o in all_orders if o.role != "take_profit"], batch_size=2000)
        Order.objects.bulk_create([o for o in all_orders if o.role == "take_profit"], batch_size=2000)
        Signal.objects.bulk_create(all_signals, batch_size=2000)
        QueuedSignal.objects.bulk_create(queue, batch_size=2000)


def traders_create(prefix: str, count: int) -> list[User]:
    """``count`` traders with a paper binance account and a risk config each (bulk: no receivers run)."""
    run = uuid.uuid4().hex[:6]
    users = [User(username=f"{prefix}{run}-{n}", password="!") for n in range(count)]
    User.objects.bulk_create(users)
    RiskConfig.objects.bulk_create([RiskConfig(user=user) for user in users])
    ExchangeAccount.objects.bulk_create(
        [ExchangeAccount(user=user, exchange_id="binance", mode="paper", price_feed="manual") for user in users]
    )
    return users


def _clear() -> None:
    traders = User.objects.filter(username__startswith=USERNAME_PREFIX)
    Order.objects.filter(group__user__in=traders, role="take_profit").delete()
    PositionGroup.objects.filter(user__in=traders).delete()
    traders.delete()


def pages(user: User) -> dict[str, str]:
    """The measured pages: the overview, its htmx fragments, the biggest open position and its fragment."""
    position = (
        PositionGroup.objects.filter(user=user, status__in=[s.value for s in GROUP_ACTIVE_STATUSES])
        .order_by("-pyramid_count", "-filled_dca_legs", "created_at")
        .first()
    )
    return {
        "overview /": reverse("overview"),
        "fragment positions": reverse("partial-positions"),
        "fragment pool": reverse("partial-pool"),
        "fragment engine": reverse("partial-engine"),
        "position /positions/<id>/": reverse("position-detail", args=[position.pk]),
        "fragment position": reverse("partial-position", args=[position.pk]),
        "trades /trades/": reverse("trades"),
        "queue /queue/": reverse("queue"),
        "signals /signals/": reverse("signals"),
        "settings /settings/": reverse("settings"),
    }


def count_queries(client: Client, url: str) -> int:
    """Queries of one request after a first one (which may create the trader's Telegram or risk row)."""
    client.get(url)
    queries = 0

    def count(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return queries


def _timings(client: Client, url: str) -> tuple[float, float, float]:
    """p50 and p95 of the wall time, and p50 of this process's CPU time, per request (ms)."""
    for _ in range(WARM_UP):
        client.get(url)
    wall, cpu = [], []
    for _ in range(REQUESTS):
        started, cpu_started = time.perf_counter(), time.process_time()
        response = client.get(url)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    wall.sort()
    return statistics.median(wall), wall[max(0, round(0.95 * len(wall)) - 1)], statistics.median(cpu)


def run() -> list[Row]:
    rows: list[Row] = []
    counts: dict[str, list[int]] = {}
    _clear()
    users = traders_create(USERNAME_PREFIX, 1 + OTHER_TRADERS)
    added_groups = added_orders = 0
    with override_settings(DEBUG=False):
        for groups, orders in SIZES:
            book_add(users, groups=groups - added_groups, orders=orders - added_orders)
            added_groups, added_orders = groups, orders
            with connection.cursor() as cursor:  # fresh planner statistics after a bulk load
                cursor.execute("ANALYZE")
            total_groups = PositionGroup.objects.filter(user__in=users).count()
            total_orders = Order.objects.filter(group__user__in=users).count()
            main = users[0]
            open_groups = PositionGroup.objects.filter(
                user=main, status__in=[s.value for s in GROUP_ACTIVE_STATUSES]
            ).count()
            label = (
                f"{total_groups:,} groups / {total_orders:,} orders ({main.position_groups.count():,} groups, "
                f"{open_groups} open, of the measured trader)"
            )
            client = Client()
            client.force_login(main)
            largest = (groups, orders) == SIZES[-1]
            for name, url in pages(main).items():
                counts.setdefault(name, []).append(count_queries(client, url))
                if not largest:
                    continue
                p50, p95, cpu = _timings(client, url)
                rows.append(
                    Row(
                        "pages",
                        f"{name}: server time, {label}",
                        f"p50 {p50:.1f} ms, p95 {p95:.1f} ms (CPU p50 {cpu:.1f} ms)",
                        f"p95 ≤ {TARGET_P95_MS} ms",
                        p95 <= TARGET_P95_MS,
                    )
                )
    small, large = SIZES
    for name, (few, many) in counts.items():
        rows.append(
            Row(
                "pages",
                f"{name}: SQL queries, {small[0]:,}/{small[1]:,} → {large[0]:,}/{large[1]:,} groups/orders",
                f"{few} → {many}",
                "equal",
                few == many,
            )
        )
    _clear()
    return rows
