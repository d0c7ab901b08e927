"""A trader ready to route signals on the paper exchange: the walkthrough market, price and ladder."""

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from django.core.management import call_command

from exchanges.paper.services import paper_price_set
from tests.factories import DCAConfigurationFactory, ExchangeAccountFactory, UserFactory
from trading.models import Signal


@pytest.fixture
def trader(db):
    user = UserFactory(username="walkthrough")
    ExchangeAccountFactory(user=user, exchange_id="binance", price_feed="manual", starting_balance=Decimal("100000"),
                           maker_fee_percent=0, taker_fee_percent=0, market_slippage_percent=0)
    call_command("paper", "market", "binance", "BTC/USDT", "--tick", "0.01", "--step", "0.001",
                 "--min-qty", "0.001", "--min-notional", "10")
    call_command("paper", "market", "binance", "ETH/USDT", "--tick", "0.01", "--step", "0.001",
                 "--min-qty", "0.001", "--min-notional", "10")
    DCAConfigurationFactory(user=user)  # BTC/USDT 15m, the walkthrough ladder, 1000 USD per pyramid
    DCAConfigurationFactory(user=user, pair="ETH/USDT")
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=Decimal("100"))
    paper_price_set(exchange_id="binance", symbol="ETH/USDT", price=Decimal("100"))
    return user


def alert_payload(user, *, intent="signal", side="buy", symbol="BTCUSDT", entry_price="100", timeframe="15",
                  order_size="", size_type="quote", prev_market_position="flat", market_position="long", **extra):
    payload = {
        "user_id": str(user.id),
        "source": "tradingview",
        "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tv": {"exchange": "BINANCE", "symbol": symbol, "timeframe": timeframe, "action": side if side in ("buy", "sell") else "buy",
               "market_position": market_position, "prev_market_position": prev_market_position,
               "entry_price": entry_price, "close_price": entry_price, "order_size": order_size},
        "strategy_info": {"trade_id": "t1", "alert_name": "test", "alert_message": ""},
        "execution_intent": {"type": intent, "side": side, "position_size_type": size_type, "precision_mode": "auto"},
        "risk": {"max_slippage_percent": 0.5, "stop_loss": None, "take_profit": None},
    }
    payload.update(extra)
    return payload


def stored_signal(user, **kwargs) -> Signal:
    """A signal as the webhook stores it (payload without the secret), ready to be routed."""
    payload = alert_payload(user, **kwargs)
    return Signal.objects.create(user=user, payload=payload, intent=payload["execution_intent"]["type"],
                                 exchange="binance", tv_symbol=payload["tv"]["symbol"],
                                 timeframe=int(payload["tv"]["timeframe"]), entry_price=Decimal(payload["tv"]["entry_price"]))


@pytest.fixture
def route(trader, eager_celery, django_capture_on_commit_callbacks):
    """route(**alert) → the routed Signal, with its grid placed (or its close done) on the paper exchange."""
    from trading.services.routing import signal_route

    def _route(user=None, **kwargs):
        signal = stored_signal(user or trader, **kwargs)
        with django_capture_on_commit_callbacks(execute=True):
            signal_route(signal_id=signal.pk)
        signal.refresh_from_db()
        return signal

    return _route
