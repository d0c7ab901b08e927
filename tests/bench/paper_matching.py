"""Paper matching: 10,000 open orders across 100 symbols; one price update on one symbol.

Each measured update goes to a symbol not touched before, so every run matches a fresh book. The
100 orders of a symbol are a DCA ladder: 50 buys 0.5 % apart below 100 and 50 sells above.
"""

import statistics
import time
from decimal import Decimal

from django.db import transaction

from exchanges.models import ExchangeAccount, PaperBalance, PaperMarket, PaperOrder, PaperPrice
from exchanges.paper.services import paper_price_set
from tests.bench import Row
from trading.models import User

SYMBOLS = 100
ORDERS_PER_SYMBOL = 100
TARGET_MS = 20


def _setup() -> list[str]:
    user, _ = User.objects.get_or_create(username="bench-paper")
    account, _ = ExchangeAccount.objects.get_or_create(
        user=user, exchange_id="benchx", defaults={"price_feed": "manual"}
    )
    PaperOrder.objects.filter(account=account).delete()
    PaperMarket.objects.filter(exchange_id="benchx").delete()
    PaperPrice.objects.filter(exchange_id="benchx").delete()
    symbols = [f"C{i:03d}/USDT" for i in range(SYMBOLS)]
    PaperMarket.objects.bulk_create(
        PaperMarket(
            exchange_id="benchx",
            symbol=s,
            market_id=s.replace("/", ""),
            base=s.split("/")[0],
            quote="USDT",
            tick_size=Decimal("0.01"),
            step_size=Decimal("0.001"),
        )
        for s in symbols
    )
    orders = []
    for symbol in symbols:
        for i in range(ORDERS_PER_SYMBOL // 2):
            step = Decimal(1) - Decimal("0.005") * (i + 1)
            orders.append(
                PaperOrder(
                    account=account,
                    exchange_id="benchx",
                    symbol=symbol,
                    client_order_id=f"b{symbol}{i}",
                    side="buy",
                    order_type="limit",
                    price=(100 * step).quantize(Decimal("0.01")),
                    amount=Decimal("1"),
                )
            )
            orders.append(
                PaperOrder(
                    account=account,
                    exchange_id="benchx",
                    symbol=symbol,
                    client_order_id=f"s{symbol}{i}",
                    side="sell",
                    order_type="limit",
                    price=(100 / step).quantize(Decimal("0.01")),
                    amount=Decimal("1"),
                )
            )
    # The orders were inserted directly, so hold their funds by hand as placement would have.
    PaperBalance.objects.filter(account=account).delete()
    PaperBalance.objects.bulk_create(
        PaperBalance(account=account, asset=asset, used=Decimal("1e9"))
        for asset in ["USDT", *(s.split("/")[0] for s in symbols)]
    )
    with transaction.atomic():
        PaperOrder.objects.bulk_create(orders, batch_size=2000)
    return symbols


def _time_updates(symbols: list[str], price: Decimal) -> tuple[list[float], int]:
    timings, fills = [], 0
    for symbol in symbols:
        started = time.perf_counter()
        result = paper_price_set(exchange_id="benchx", symbol=symbol, price=price)
        timings.append((time.perf_counter() - started) * 1000)
        fills = result.fills
    return timings, fills


def run() -> list[Row]:
    symbols = _setup()
    open_orders = PaperOrder.objects.filter(exchange_id="benchx", status="open").count()
    rows = []
    # price 100: nothing crosses; 97.5: the 5 nearest buys cross (a typical DCA move); 75: all 50 buys.
    for label, price, chunk in (
        ("no order crosses", "100", symbols[0:20]),
        ("5 orders cross", "97.5", symbols[20:40]),
        ("50 orders cross", "75", symbols[40:60]),
    ):
        timings, fills = _time_updates(chunk, Decimal(price))
        p50, worst = statistics.median(timings), max(timings)
        rows.append(
            Row(
                "paper matching",
                f"one price update, {open_orders:,} open orders / {SYMBOLS} symbols, {label} ({fills} filled)",
                f"p50 {p50:.1f} ms, max {worst:.1f} ms",
                f"≤ {TARGET_MS} ms",
                p50 <= TARGET_MS,
            )
        )
    return rows
