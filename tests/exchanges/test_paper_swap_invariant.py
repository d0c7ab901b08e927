"""The paper swap account's books balance whatever happens: random orders (one-way or hedge, reduce-only,
market and limit), price moves (fills, liquidations), funding instants, leverage and margin-mode changes,
cancels. After every step:

    free + used == start + realised PnL − fees + funding,   used == margins + what open orders hold,
    free >= 0, used >= 0.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from exchanges.connector import InsufficientFunds, InvalidOrder, OrderNotFound
from exchanges.models import PaperBalance, PaperFill, PaperFunding, PaperOrder, PaperPosition, PaperPrice
from exchanges.paper.connector import PaperConnector
from exchanges.paper.services import paper_price_set
from tests.factories import ExchangeAccountFactory

pytestmark = pytest.mark.django_db
D = Decimal
START = D("1000")
TICKS = {"BTC/USDT:USDT": D("0.1"), "ETH/USDT:USDT": D("0.01")}
SYMBOLS = sorted(TICKS)

orders = st.tuples(
    st.just("order"),
    st.sampled_from(SYMBOLS),
    st.sampled_from(["buy", "sell"]),
    st.integers(1, 60),  # contracts
    st.sampled_from(["market", "limit"]),
    st.integers(-4, 4),  # a limit's distance from the price, percent
    st.booleans(),  # reduce-only (one-way) / which leg (hedge)
)
moves = st.tuples(st.just("price"), st.sampled_from(SYMBOLS), st.sampled_from([-30, -12, -4, -1, 1, 4, 12, 30]))
waits = st.tuples(st.just("wait"), st.integers(1, 30))  # hours
modes = st.tuples(
    st.just("mode"),
    st.sampled_from(SYMBOLS),
    st.sampled_from([1, 3, 10, 25, 100]),
    st.sampled_from(["isolated", "cross"]),
)
cancels = st.tuples(st.just("cancel"))
steps = st.lists(st.one_of(orders, moves, waits, modes, cancels), min_size=1, max_size=14)


def check(account) -> None:
    balance = PaperBalance.objects.get(account=account, asset="USDT")
    fills = PaperFill.objects.filter(order__account=account)
    funding = sum((row.amount for row in PaperFunding.objects.filter(account=account)), D(0))
    assert balance.free + balance.used == START + sum((f.realized_pnl - f.fee for f in fills), D(0)) + funding
    margins = sum((p.margin for p in PaperPosition.objects.filter(account=account)), D(0))
    holds = sum((o.margin_held for o in PaperOrder.objects.filter(account=account, status="open")), D(0))
    assert balance.used == margins + holds
    assert balance.free >= 0 and balance.used >= 0


@settings(max_examples=50, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    hedge=st.booleans(),
    leverage=st.sampled_from([5, 20, 50, 100]),
    margin_mode=st.sampled_from(["isolated", "cross"]),
    opening=orders.map(lambda order: ("open", *order[1:4])),  # a position to start from
    plan=steps,
)
def test_the_books_balance_after_every_step(hedge, leverage, margin_mode, opening, plan):
    clock = [datetime(2026, 3, 1, 6, 0, tzinfo=UTC)]
    with mock.patch("django.utils.timezone.now", lambda: clock[0]), transaction.atomic():
        account = ExchangeAccountFactory(
            market_type="swap",
            starting_balance=START,
            maker_fee_percent=D("0.02"),
            taker_fee_percent=D("0.05"),
            market_slippage_percent=D("0.05"),
            paper_position_mode="hedge" if hedge else "one_way",
        )
        swap = PaperConnector(account)
        swap.load_markets()
        paper_price_set(exchange_id="binance", symbol="BTC/USDT:USDT", price=D("60000"))
        paper_price_set(exchange_id="binance", symbol="ETH/USDT:USDT", price=D("3000"))
        for symbol in SYMBOLS:
            swap.set_margin_mode(symbol, margin_mode, leverage=leverage)
        swap.balance()
        for number, step in enumerate([opening, *plan]):
            kind = step[0]
            try:
                if kind == "open":
                    _, symbol, side, contracts = step
                    leg = {"position_side": "long" if side == "buy" else "short"} if hedge else {}
                    swap.create_order(
                        symbol=symbol,
                        side=side,
                        type="market",
                        amount=contracts * swap.market(symbol).contract_size,
                        price=None,
                        client_order_id="open",
                        **leg,
                    )
                elif kind == "order":
                    _, symbol, side, contracts, type_, distance, flag = step
                    now = PaperPrice.objects.get(exchange_id="binance", symbol=symbol).price
                    size = swap.market(symbol).contract_size
                    price = None
                    if type_ == "limit":
                        price = (now * (100 + distance) / 100).quantize(TICKS[symbol])
                    leg = {"position_side": "long" if flag else "short"} if hedge else {"reduce_only": flag}
                    swap.create_order(
                        symbol=symbol,
                        side=side,
                        type=type_,
                        amount=contracts * size,
                        price=price,
                        client_order_id=f"o{number}",
                        **leg,
                    )
                elif kind == "price":
                    _, symbol, percent = step
                    now = PaperPrice.objects.get(exchange_id="binance", symbol=symbol).price
                    paper_price_set(exchange_id="binance", symbol=symbol, price=now * (100 + percent) / 100)
                elif kind == "wait":
                    clock[0] += timedelta(hours=step[1])
                    swap.fetch_positions()  # settles the funding instants passed
                elif kind == "mode":
                    _, symbol, leverage, margin_mode = step
                    swap.set_margin_mode(symbol, margin_mode, leverage=leverage)
                else:
                    oldest = PaperOrder.objects.filter(account=account, status="open").order_by("pk").first()
                    if oldest is not None:
                        swap.cancel_order(symbol=oldest.symbol, id=str(oldest.pk))
            except (InvalidOrder, InsufficientFunds, OrderNotFound):
                pass  # refused as an exchange would: nothing may have moved
            check(account)
        # Coverage, shown by --hypothesis-show-statistics: liquidations and funding do happen.
        liquidations = PaperOrder.objects.filter(account=account, client_order_id__startswith="autoclose-").count()
        event(f"liquidations: {liquidations}")
        event(f"funding rows: {min(PaperFunding.objects.filter(account=account).count(), 3)}+")
        transaction.set_rollback(True)
