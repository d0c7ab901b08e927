"""Soak: the Procfile's processes take a steady stream of alerts while prices move, then settle and are audited.

Traders (50 by default) send entries, pyramids and exits on their own handful of the 200 paper
markets at a fixed rate through the webhook; beat's synthetic walk moves every price, so legs fill,
take-profits fill and groups close while the alerts keep coming. Then every trader exits everything
(again through the webhook) and the books are audited:

- every alert answered 202 and every signal ended in a final status;
- every paper (exchange) order is known to the database and vice versa, none doubled, none still
  open for a finished group, none in flight (``tests/stack/invariants.py``);
- each account's paper balances are exactly what the fills the database recorded add up to, fees
  included, no funds are still reserved, and what is left of each base asset is fee dust below one
  lot per group;
- no position sold more than it bought net of base-asset fees (on the exchange's own books), none
  carries an over-sell anomaly, and every position ended closed.

It runs once per paper answer dialect (plain; binance: order queries without fees; bybit: ids-only
placements and cancels), each with 5 % of accepted orders' answers lost and crossed orders filling
half per matching pass.

Size from the environment: ``SOAK_SECONDS`` of load per dialect (20 in ``make test``; ``make soak`` runs 200),
``SOAK_RATE`` alerts per second (20), ``SOAK_USERS`` (50), ``SOAK_SYMBOLS`` (200). The figures are written to
``var/test-artifacts/soak-<dialect>.json``.
"""

import json
import os
import random
import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from django.db import connection
from django.db.models import Q

from exchanges.models import ExchangeAccount, PaperMarket, PaperOrder, PaperPrice
from tests.alert_bodies import Exactly, alert_body
from tests.drills import arm_faults, set_dialect
from tests.factories import DCAConfigurationFactory, ExchangeAccountFactory, UserFactory
from tests.processes import process_env
from tests.stack import audits, invariants
from tests.stack.stack import Stack, wait
from trading.models import Order, PositionGroup, QueuedSignal, RiskConfig, Signal

pytestmark = [pytest.mark.e2e, pytest.mark.soak, pytest.mark.django_db(transaction=True)]

SECONDS = float(os.environ.get("SOAK_SECONDS", "20"))
DIALECTS = ("plain", "binance", "bybit")
# 5 % of accepted orders lose their answer; crossed orders fill half per matching pass.
FAULTS = {"lose_answer_rate": 0.05}
PARTIAL_FILL_RATIO = Decimal("0.5")
RATE = float(os.environ.get("SOAK_RATE", "20"))
USERS = int(os.environ.get("SOAK_USERS", "50"))
SYMBOLS = int(os.environ.get("SOAK_SYMBOLS", "200"))
SYMBOLS_PER_USER = 8
SENDERS = 8
ARTIFACT = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "soak.json"

STEP = Decimal("0.001")
START_PRICE = Decimal("100")
STARTING_BALANCE = Decimal("1000000")
FINAL = {"opened", "pyramided", "exited", "reduced", "reversed", "ignored", "rejected", "failed"}
ACTIVE = ~Q(status__in=["closed", "failed"])
# Prices move 0.3 % (one standard deviation) every 2 s: legs 0.3 % apart fill within a minute.
SOAK_ENV = {
    "PAPER_TICK_SECONDS": "2",
    "PAPER_SYNTHETIC_VOLATILITY_PERCENT": "0.3",
    "FILL_SYNC_SECONDS": "2",
    "WEBHOOK_RATE_LIMIT_PER_IP": "100000",
    "WEBHOOK_RATE_LIMIT_PER_USER": "100000",
}


def _markets() -> list[str]:
    names = [f"S{i:03d}" for i in range(SYMBOLS)]
    PaperMarket.objects.bulk_create(
        [
            PaperMarket(
                exchange_id="binance",
                symbol=f"{name}/USDT",
                market_id=f"{name}USDT",
                base=name,
                quote="USDT",
                tick_size=Decimal("0.01"),
                step_size=STEP,
                min_qty=STEP,
                min_notional=Decimal("5"),
                reference_price=START_PRICE,
            )
            for name in names
        ]
    )
    PaperPrice.objects.bulk_create(
        [PaperPrice(exchange_id="binance", symbol=f"{name}/USDT", price=START_PRICE) for name in names]
    )
    return names


def _traders(names: list[str], dialect: str) -> list[dict]:
    traders = []
    levels = [
        {"gap_percent": gap, "weight_percent": "20", "tp_percent": "0.5"}
        for gap in ("0", "-0.3", "-0.6", "-0.9", "-1.2")
    ]
    for number in range(USERS):
        user = UserFactory(username=f"soak-{number}")
        # Every account on the synthetic feed: beat's walk moves all 200 prices.
        account = ExchangeAccountFactory(
            user=user,
            price_feed=ExchangeAccount.PriceFeed.SYNTHETIC,
            starting_balance=STARTING_BALANCE,
            partial_fill_ratio=PARTIAL_FILL_RATIO,
        )
        set_dialect(account, dialect)
        arm_faults(account, **FAULTS)
        # Half the traders take profit per leg, half on the whole position.
        DCAConfigurationFactory(
            user=user,
            pair="*",
            levels=levels,
            capital_usd=Decimal("200"),
            max_pyramids=3,
            tp_mode="per_leg" if number % 2 == 0 else "aggregate",
            tp_aggregate_percent=Decimal("0.6"),
        )
        RiskConfig.objects.update_or_create(
            user=user, defaults={"max_open_positions_global": 5, "max_total_exposure_usd": Decimal("100000")}
        )
        symbols = [names[(number * SYMBOLS_PER_USER + k) % len(names)] for k in range(SYMBOLS_PER_USER)]
        traders.append({"id": str(user.id), "secret": user.webhook_secret, "symbols": symbols})
    return traders


def _alert(trader: dict, symbol: str, *, intent: str, price: Decimal, trade_id: str) -> dict:
    exit_ = intent == "exit"
    return alert_body(
        user_id=trader["id"],
        secret=trader["secret"],
        tv=Exactly(
            exchange="BINANCE",
            symbol=f"{symbol}USDT",
            timeframe="15",
            action="sell" if exit_ else "buy",
            market_position="flat" if exit_ else "long",
            prev_market_position="long" if exit_ else "flat",
            entry_price=str(price),
            close_price=str(price),
        ),
        strategy_info={"trade_id": trade_id, "alert_name": "soak", "alert_message": ""},
        execution_intent={"type": intent, "side": "sell" if exit_ else "buy", "position_size_type": "quote"},
        risk={"max_slippage_percent": 1},
    )


class Prices:
    """What TradingView would read off the chart: the paper prices, re-read once a second."""

    def __init__(self):
        self.lock = threading.Lock()
        self.read_at = 0.0
        self.prices: dict[str, Decimal] = {}

    def __call__(self, symbol: str) -> Decimal:
        with self.lock:
            if time.monotonic() - self.read_at > 1:
                self.prices = {
                    row[0].split("/")[0]: row[1]
                    for row in PaperPrice.objects.filter(exchange_id="binance").values_list("symbol", "price")
                }
                self.read_at = time.monotonic()
            return self.prices.get(symbol, START_PRICE)


class Sender:
    """Posts alerts from a few threads and keeps every answer."""

    def __init__(self, stack: Stack):
        self.url = stack.url
        self.local = threading.local()
        self.answers: list[tuple[int, float]] = []
        self.failures: list[str] = []
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(SENDERS)

    def _post(self, trader: dict, body: dict) -> None:
        session = getattr(self.local, "session", None) or requests.Session()
        self.local.session = session
        started = time.monotonic()
        try:
            response = session.post(
                self.url(f"/webhooks/{trader['id']}/tradingview"),
                data=json.dumps(body),
                headers={"Content-Type": "text/plain"},
                timeout=30,
            )
            status, text = response.status_code, response.text[:200]
        except requests.RequestException as exc:
            status, text = 0, repr(exc)
        elapsed = time.monotonic() - started
        with self.lock:
            self.answers.append((status, elapsed))
            if status != 202:
                self.failures.append(f"{status}: {text}")

    def send(self, trader: dict, body: dict) -> None:
        self.pool.submit(self._post, trader, body)

    def drain(self) -> None:
        self.pool.shutdown(wait=True)
        self.pool = ThreadPoolExecutor(SENDERS)


def _load(sender: Sender, traders: list[dict], prices: Prices) -> Counter:
    """RATE alerts a second for SECONDS: 70 % entries or pyramids, 30 % exits, on each trader's symbols."""
    chosen = Counter()
    rng = random.Random(7)
    started = time.monotonic()
    for number in range(int(SECONDS * RATE)):
        delay = started + number / RATE - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        trader = rng.choice(traders)
        symbol = rng.choice(trader["symbols"])
        intent = "exit" if rng.random() < 0.3 else "signal"
        chosen[intent] += 1
        sender.send(trader, _alert(trader, symbol, intent=intent, price=prices(symbol), trade_id=f"soak-{number}"))
    sender.drain()
    return chosen


def _unrouted() -> int:
    return Signal.objects.filter(status="received").count()


def _close_everything(sender: Sender, traders: list[dict], prices: Prices, logs) -> int:
    """Exit every open group and queued entry through the webhook, in rounds (a close can promote a
    queued entry, which the next round exits); the number of rounds it took."""
    by_id = {trader["id"]: trader for trader in traders}
    for round_number in range(1, 21):
        wait(lambda: _unrouted() == 0, timeout=300, what="every signal routed", logs=logs)
        open_identities = set(PositionGroup.objects.filter(ACTIVE).values_list("user_id", "symbol"))
        queued = set(QueuedSignal.objects.filter(status="queued").values_list("user_id", "symbol"))
        targets = {(str(user), symbol.split("/")[0].removesuffix("USDT")) for user, symbol in open_identities | queued}
        if not targets:
            return round_number - 1
        for user_id, symbol in sorted(targets):
            sender.send(
                by_id[user_id],
                _alert(
                    by_id[user_id],
                    symbol,
                    intent="exit",
                    price=prices(symbol),
                    trade_id=f"final-{round_number}-{symbol}",
                ),
            )
        sender.drain()
        wait(lambda: _unrouted() == 0, timeout=300, what="the exits routed", logs=logs)
        wait(
            lambda: not PositionGroup.objects.filter(status="closing").exists(),
            timeout=300,
            what="every close to finish",
            logs=logs,
        )
    raise AssertionError("positions were still open after 20 rounds of exits")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_soak_every_signal_final_every_order_known_balances_reconcile(tmp_path, dialect):
    names = _markets()
    traders = _traders(names, dialect)
    stack = Stack(tmp_path, process_env())
    stack.env.update(SOAK_ENV)
    try:
        stack.start("web")
        stack.start("worker")
        stack.start("beat")
        prices, sender = Prices(), Sender(stack)

        load_started = time.monotonic()
        chosen = _load(sender, traders, prices)
        load_seconds = time.monotonic() - load_started
        wait(lambda: _unrouted() == 0, timeout=600, what="the backlog routed", logs=stack.logs)
        backlog_seconds = time.monotonic() - load_started - load_seconds
        during = {
            "groups": PositionGroup.objects.count(),
            "closed_groups": PositionGroup.objects.filter(status="closed").count(),
            # Orders with a fill: with half fills a leg is only partly filled after one pass, and in the
            # bybit dialect a market exit reads "open" until the next sync, so status "filled" can lag.
            "orders": Order.objects.count(),
            "filled_orders": Order.objects.filter(filled_quantity__gt=0).count(),
            "paper_fills": PaperOrder.objects.filter(filled__gt=0).count(),
        }
        rounds = _close_everything(sender, traders, prices, stack.logs)
        # Fill sync catches up with the last cancels and market closes.
        wait(
            lambda: not Order.objects.filter(status__in=invariants.IN_FLIGHT + ("open", "partially_filled")).exists()
            and not PaperOrder.objects.filter(status="open").exists(),
            timeout=300,
            what="no order open or in flight anywhere",
            logs=stack.logs,
        )
        settle_seconds = time.monotonic() - load_started - load_seconds - backlog_seconds
    finally:
        stack.stop_all()

    latencies = sorted(elapsed for _, elapsed in sender.answers)
    statuses = Counter(Signal.objects.values_list("status", flat=True))
    figures = {
        "seconds": SECONDS,
        "rate": RATE,
        "users": USERS,
        "symbols": SYMBOLS,
        "alerts": dict(chosen),
        "answers": dict(Counter(status for status, _ in sender.answers)),
        "webhook_p50_ms": round(statistics.median(latencies) * 1000, 1),
        "webhook_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
        "load_seconds": round(load_seconds, 1),
        "backlog_seconds_after_load": round(backlog_seconds, 1),
        "close_rounds": rounds,
        "settle_seconds": round(settle_seconds, 1),
        "during_load": during,
        "signal_statuses": dict(statuses),
        "groups": PositionGroup.objects.count(),
        "orders": Order.objects.count(),
        "paper_orders": PaperOrder.objects.count(),
    }
    figures.update(dialect=dialect, faults=FAULTS, partial_fill_ratio=str(PARTIAL_FILL_RATIO))
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    artifact = ARTIFACT.with_name(f"soak-{dialect}.json")
    artifact.write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))

    assert not sender.failures, f"{len(sender.failures)} alerts not accepted, e.g. {sender.failures[:5]}"
    assert set(statuses) <= FINAL, f"signals not in a final status: {statuses}"
    assert during["filled_orders"] > 0 and during["closed_groups"] > 0, f"prices never filled anything: {during}"
    with connection.cursor() as cursor:
        invariants.assert_books_straight(cursor)
    accounts = ExchangeAccount.objects.filter(user_id__in=[t["id"] for t in traders]).select_related("user")
    problems = audits.balance_problems(accounts, step=STEP)
    assert not problems, "balances do not reconcile:\n  " + "\n  ".join(problems)
    problems = audits.sell_budget_problems()
    assert not problems, "sell budgets broken:\n  " + "\n  ".join(problems[:20])
