"""The demo account: a user with a paper Binance account and a DCA configuration, ready to trade."""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from rest_framework.authtoken.models import Token

from exchanges.models import ExchangeAccount
from trading.alerts import alert_body
from trading.models import DCAConfiguration, User

DEMO_USERNAME = "demo"
DEMO_PAIR = "BTC/USDT"
DEMO_TIMEFRAME = 15
# The reference walkthrough's ladder: five legs 0.5 % apart, 20 % each, 2 % take-profit.
DEMO_LEVELS = [
    {"gap_percent": gap, "weight_percent": "20", "tp_percent": "2"} for gap in ("0", "-0.5", "-1", "-1.5", "-2")
]


@dataclass(frozen=True)
class DemoAccount:
    user: User
    password: str
    api_token: str


@transaction.atomic
def demo_setup(*, password: str, superuser: bool = False) -> DemoAccount:
    """Create the demo user, account and configuration, or bring them back to the demo state.

    The demo user is a trader (dashboard and API); with ``superuser`` it also runs admin. The
    password must pass AUTH_PASSWORD_VALIDATORS (a ``ValidationError`` lists why not; nothing is
    written then).
    """
    user = User.objects.filter(username=DEMO_USERNAME).first() or User(username=DEMO_USERNAME, email="demo@example.com")
    validate_password(password, user)
    user.set_password(password)
    user.is_staff = user.is_superuser = superuser
    user.save()
    ExchangeAccount.objects.update_or_create(
        user=user,
        exchange_id="binance",
        market_type=ExchangeAccount.MarketType.SPOT,
        defaults={
            "label": "Paper Binance (demo)",
            "mode": ExchangeAccount.Mode.PAPER,
            "price_feed": ExchangeAccount.PriceFeed.SYNTHETIC,
            "is_enabled": True,
        },
    )
    config = DCAConfiguration(
        user=user,
        exchange="binance",
        pair=DEMO_PAIR,
        timeframe=DEMO_TIMEFRAME,
        levels=DEMO_LEVELS,
        tp_mode="per_leg",
        tp_aggregate_percent=Decimal("3"),
        max_pyramids=5,
        capital_usd=Decimal("1000"),
    )
    existing = DCAConfiguration.objects.filter(
        user=user, exchange="binance", pair=DEMO_PAIR, timeframe=DEMO_TIMEFRAME
    ).first()
    if existing is None:
        config.full_clean()
        config.save()
    token, _ = Token.objects.get_or_create(user=user)
    return DemoAccount(user=user, password=password, api_token=token.key)


def demo_alert_payload(user: User, *, entry_price: str, timestamp: str) -> dict:
    """A TradingView alert body for the demo pair, as TradingView would send it."""
    return alert_body(
        user_id=user.id,
        secret=user.webhook_secret,
        timestamp=timestamp,
        tv={
            "exchange": "BINANCE",
            "symbol": "BTCUSDT",
            "timeframe": str(DEMO_TIMEFRAME),
            "action": "buy",
            "market_position": "long",
            "market_position_size": "0.01",
            "prev_market_position": "flat",
            "prev_market_position_size": "0",
            "entry_price": entry_price,
            "close_price": entry_price,
            "order_size": "0.01",
        },
        strategy_info={"trade_id": "demo-1", "alert_name": "Demo long", "alert_message": "demo entry"},
        execution_intent={"type": "signal", "side": "buy", "position_size_type": "base", "precision_mode": "auto"},
    )


def base_url() -> str:
    return settings.PUBLIC_BASE_URL
