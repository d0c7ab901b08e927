"""Positions on the paper exchange, filled and priced, ready for the risk engine."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from exchanges.models import PaperBalance
from exchanges.paper.services import paper_price_set
from tests.factories import ExchangeAccountFactory, OrderFactory, PositionGroupFactory, PyramidFactory, UserFactory
from trading.models import RiskConfig
from trading.services.fills import group_refresh_stats

D = Decimal
MARKETS = {"BTC/USDT": ("0.01", "0.001"), "ETH/USDT": ("0.01", "0.001"), "SOL/USDT": ("0.01", "0.01")}


@pytest.fixture
def risk_trader(db):
    user = UserFactory(username="risky")
    account = ExchangeAccountFactory(
        user=user,
        price_feed="manual",
        starting_balance=D("100000"),
        maker_fee_percent=0,
        taker_fee_percent=0,
        market_slippage_percent=0,
    )
    for symbol, (tick, step) in MARKETS.items():
        call_command("paper", "market", "binance", symbol, "--tick", tick, "--step", step, "--min-notional", "5")
    RiskConfig.objects.filter(user=user).update(
        required_pyramids_for_timer=1, post_pyramids_wait_minutes=15, loss_threshold_percent=D("-1.5")
    )
    user.account = account
    return user


@pytest.fixture
def holding(risk_trader):
    """holding("ETH/USDT", quantity, average, price) → an active group holding it, marked to market."""

    def _holding(symbol, quantity, average, price, side="long", age_minutes=60, **group_fields):
        quantity, average, price = D(quantity), D(average), D(price)
        group = PositionGroupFactory(
            user=risk_trader,
            exchange_account=risk_trader.account,
            symbol=symbol,
            side=side,
            status="active",
            base_entry_price=average,
            max_pyramids=1,
            pyramid_count=1,
            total_dca_legs=1,
            **group_fields,
        )
        pyramid = PyramidFactory(group=group, entry_price=average, status="filled")
        OrderFactory(
            group=group,
            pyramid=pyramid,
            symbol=symbol,
            side="buy" if side == "long" else "sell",
            price=average,
            quantity=quantity,
            filled_quantity=quantity,
            avg_fill_price=average,
            status="filled",
            filled_at=timezone.now() - timedelta(minutes=age_minutes),
        )
        base = symbol.split("/")[0]
        balance, _ = PaperBalance.objects.get_or_create(account=risk_trader.account, asset=base)
        PaperBalance.objects.filter(pk=balance.pk).update(free=balance.free + quantity)
        paper_price_set(exchange_id="binance", symbol=symbol, price=price)
        type(group).objects.filter(pk=group.pk).update(
            current_price=price, created_at=timezone.now() - timedelta(minutes=age_minutes)
        )
        return group_refresh_stats(group_id=group.pk)

    return _holding
