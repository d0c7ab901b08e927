"""Risk evaluation: engine CPU of one evaluation cycle over every trader, at 100 and at 1,000 traders.

Each trader has a paper account on binance (the shipped market list) and ten active groups of one
filled pyramid each, with stored statistics as the price sync leaves them: one loser at −3 % whose
timer expired twenty minutes ago (the loser), one at −2 % whose timer has not started yet (it starts
this cycle), one at −0.5 % (above the −1.5 % threshold), and seven winners between +2 % and +8 %.
The RiskConfig, users, accounts, groups and pyramids are bulk-inserted (``bulk_create`` skips the
post_save receiver that creates a user's RiskConfig, so those rows are inserted here too).

A cycle is what beat's ``dispatch_risk_evaluations_task`` sets off for every trader, run here
in-process one trader after another: ``risk_evaluate(user=…, dispatch=False)`` (the closes are
marked and recorded, not sent to Celery). It is measured twice per size:

- *busy*: every trader's loser is closed by an offset paid by its top winners — the worst case;
- *quiet*: the next cycle, where no trader has an eligible loser — the steady state.

CPU is ``time.process_time`` of this process, i.e. the engine's Python; PostgreSQL's own work runs
in its server processes and shows only in the wall time. ``DEBUG`` is off, as in production.
"""

import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal

from django.db import connection, transaction
from django.test.utils import override_settings
from django.utils import timezone

from exchanges.models import ExchangeAccount, PaperMarket
from exchanges.paper.services import paper_markets_ensure
from risk.evaluation import risk_evaluate
from tests.bench import Row, growth_row
from trading.models import PositionGroup, Pyramid, RiskConfig, User

SIZES = (100, 1_000)  # traders
GROUPS_PER_USER = 10
EXCHANGE = "binance"  # the shipped paper market list: 15 markets
USERNAME_PREFIX = "bench-risk-"
POSITION_USD = Decimal("1000")  # each group holds about this much at its current price
# Unrealised PnL % of the ten groups: loser (timer expired), loser (timer starts now), small loss, winners.
PROFILE = (Decimal("-3"), Decimal("-2"), Decimal("-0.5"), *(Decimal(p) for p in ("2", "3", "4", "5", "6", "7", "8")))
TARGET_CPU_S = 5.0
# CPU per trader at 1,000 within 1.25× of that at 100 counts as linear: cycle-to-cycle noise on a shared
# machine is some ten per cent, while work growing with traders × traders would show ×10.
LINEAR_TOLERANCE = 1.25


@dataclass(frozen=True)
class Cycle:
    users: int
    executed: int
    timer_events: int
    queries: int
    cpu_s: float
    wall_s: float


def _clear() -> None:
    """Drop the traders of an earlier size or run: groups first (they protect their accounts), then the rest."""
    traders = User.objects.filter(username__startswith=USERNAME_PREFIX)
    PositionGroup.objects.filter(user__in=traders).delete()  # pyramids cascade
    traders.delete()  # risk configs, actions and accounts cascade


def _setup(users: int) -> list[User]:
    paper_markets_ensure(EXCHANGE)
    markets = list(PaperMarket.objects.filter(exchange_id=EXCHANGE).order_by("symbol")[:GROUPS_PER_USER])
    assert len(markets) == GROUPS_PER_USER, f"the shipped {EXCHANGE} list needs {GROUPS_PER_USER} markets"
    now = timezone.now()
    run = uuid.uuid4().hex[:6]
    traders = [User(username=f"{USERNAME_PREFIX}{run}-{i:05d}", password="!") for i in range(users)]
    configs = [
        RiskConfig(
            user=u,
            required_pyramids_for_timer=1,
            post_pyramids_wait_minutes=15,
            loss_threshold_percent=Decimal("-1.5"),
            max_winners_to_combine=3,
        )
        for u in traders
    ]
    accounts = [ExchangeAccount(user=u, exchange_id=EXCHANGE, mode="paper", price_feed="manual") for u in traders]
    groups, pyramids = [], []
    for trader, account in zip(traders, accounts, strict=True):
        for position, (market, pnl_percent) in enumerate(zip(markets, PROFILE, strict=True)):
            price = market.reference_price
            quantity = (POSITION_USD / price).quantize(market.step_size, rounding=ROUND_DOWN)
            average = price / (1 + pnl_percent / 100)
            invested = quantity * average
            expired = position == 0  # the loser whose timer ran out twenty minutes after it started
            group = PositionGroup(
                id=uuid.uuid4(),
                user=trader,
                exchange_account=account,
                exchange=EXCHANGE,
                symbol=market.symbol,
                timeframe=15,
                side="long",
                status="active",
                config_snapshot={},
                pyramid_count=1,
                max_pyramids=1,
                total_dca_legs=1,
                filled_dca_legs=1,
                base_entry_price=average,
                weighted_avg_entry=average,
                total_invested_usd=invested,
                total_filled_quantity=quantity,
                current_price=price,
                unrealized_pnl_usd=quantity * price - invested,
                unrealized_pnl_percent=pnl_percent,
                tp_mode="per_leg",
                risk_timer_start=now - timedelta(minutes=35) if expired else None,
                risk_timer_expires=now - timedelta(minutes=20) if expired else None,
                risk_eligible=expired,
                created_at=now - timedelta(hours=position + 1),
            )
            groups.append(group)
            pyramids.append(
                Pyramid(
                    id=uuid.uuid4(),
                    group=group,
                    index=0,
                    entry_price=average,
                    status="filled",
                    levels=[],
                    capital_usd=invested,
                    filled_at=now,
                )
            )
    with transaction.atomic():
        User.objects.bulk_create(traders, batch_size=2000)
        RiskConfig.objects.bulk_create(configs, batch_size=2000)
        ExchangeAccount.objects.bulk_create(accounts, batch_size=2000)
        PositionGroup.objects.bulk_create(groups, batch_size=2000)
        Pyramid.objects.bulk_create(pyramids, batch_size=2000)
        # auto_now_add overrode created_at; age the groups so "oldest" ranks as in a real book.
        for position in range(GROUPS_PER_USER):
            PositionGroup.objects.filter(user__in=traders, symbol=markets[position].symbol).update(
                created_at=now - timedelta(hours=position + 1)
            )
    with connection.cursor() as cursor:  # fresh statistics for the planner after a bulk load
        cursor.execute("ANALYZE")
    return traders


def _cycle(traders: list[User]) -> Cycle:
    """One evaluation of every trader, one after another, in this process."""
    queries = 0

    def count(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    executed = timer_events = 0
    with override_settings(DEBUG=False), connection.execute_wrapper(count):
        cpu, wall = time.process_time(), time.perf_counter()
        for trader in traders:
            result = risk_evaluate(user=trader, dispatch=False)
            executed += result.executed
            timer_events += result.timer_events
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return Cycle(len(traders), executed, timer_events, queries, cpu, wall)


def _figure(cycle: Cycle) -> str:
    return (
        f"{cycle.cpu_s:.2f} s CPU ({cycle.cpu_s / cycle.users * 1000:.2f} ms/trader), wall {cycle.wall_s:.2f} s, "
        f"{cycle.queries:,} queries ({cycle.queries / cycle.users:.0f}/trader); "
        f"{cycle.executed:,} offsets, {cycle.timer_events:,} timer events"
    )


def run() -> list[Row]:
    rows, cpu_per_trader = [], []
    largest = SIZES[-1]
    for users in SIZES:
        _clear()
        traders = _setup(users)
        busy = _cycle(traders)
        quiet = _cycle(traders)
        assert busy.executed == users and quiet.executed == 0, (busy, quiet)
        label = f"{users:,} traders × {GROUPS_PER_USER} active groups"
        for kind, cycle in (
            ("every trader's loser offset (worst case)", busy),
            ("next cycle, nothing eligible (steady state)", quiet),
        ):
            met = cycle.cpu_s <= TARGET_CPU_S if users == largest else None
            rows.append(
                Row(
                    "risk cycle",
                    f"CPU of one evaluation cycle, {label}, {kind}",
                    _figure(cycle),
                    f"≤ {TARGET_CPU_S:g} s" if met is not None else "— (growth below)",
                    met,
                )
            )
        cpu_per_trader.append(busy.cpu_s / users)
    _clear()
    rows.append(
        growth_row(
            "risk cycle",
            per="trader",
            cycle="the worst-case cycle",
            sizes=SIZES,
            costs=cpu_per_trader,
            tolerance=LINEAR_TOLERANCE,
        )
    )
    return rows
