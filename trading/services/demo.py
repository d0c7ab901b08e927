"""The demo account: a user with two paper Binance accounts (spot, and a USDT-margined swap account for
shorts on the perpetual) and a DCA configuration, ready to trade."""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from rest_framework.authtoken.models import Token

from exchanges.enums import MarginMode
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
# The swap account beside the spot one: a `.P` ticker (TradingView's perpetual chart) routes to it, and the
# configuration's leverage and margin mode apply there (a spot account always trades at 1x).
DEMO_SWAP_LABEL = "paper-swap"
DEMO_SWAP_TICKER = "BTCUSDT.P"
DEMO_PERPETUAL = "BTC/USDT:USDT"
DEMO_SWAP_BALANCE = Decimal("10000")  # USDT
DEMO_LEVERAGE = 3
DEMO_MARGIN_MODE = MarginMode.ISOLATED
# The short walk's prices, from the entry: above the last leg (entry + 2 %) so every leg sells, then below the
# lowest take-profit (2 % under the leg at the entry) so every take-profit buys back.
DEMO_SHORT_WALK = (Decimal("1.025"), Decimal("0.97"))


@dataclass(frozen=True)
class DemoAccount:
    user: User
    password: str
    api_token: str
    config: DCAConfiguration


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
    ExchangeAccount.objects.update_or_create(
        user=user,
        exchange_id="binance",
        market_type=ExchangeAccount.MarketType.SWAP,
        defaults={
            "label": DEMO_SWAP_LABEL,
            "mode": ExchangeAccount.Mode.PAPER,
            "price_feed": ExchangeAccount.PriceFeed.SYNTHETIC,
            "is_enabled": True,
        },
        # Set once: the paper exchange refuses a position-mode change while the account holds a position.
        create_defaults={
            "label": DEMO_SWAP_LABEL,
            "mode": ExchangeAccount.Mode.PAPER,
            "price_feed": ExchangeAccount.PriceFeed.SYNTHETIC,
            "is_enabled": True,
            "starting_balance": DEMO_SWAP_BALANCE,
            "paper_position_mode": "one_way",
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
        leverage=DEMO_LEVERAGE,
        margin_mode=DEMO_MARGIN_MODE,
    )
    existing = DCAConfiguration.objects.filter(
        user=user, exchange="binance", pair=DEMO_PAIR, timeframe=DEMO_TIMEFRAME
    ).first()
    if existing is None:
        config.full_clean()
        config.save()
    token, _ = Token.objects.get_or_create(user=user)
    return DemoAccount(user=user, password=password, api_token=token.key, config=existing or config)


def demo_alert_payload(user: User, *, entry_price: str, timestamp: str, short: bool = False) -> dict:
    """A TradingView alert body for the demo pair, as TradingView would send it: a long from the spot chart
    (BTCUSDT, the spot account), or with ``short`` a SHORT from the perpetual's chart (BTCUSDT.P, which
    trades the paper swap account)."""
    side, position, trade, name, message = (
        ("sell", "short", "demo-short-1", "Demo short", "demo short entry")
        if short
        else ("buy", "long", "demo-1", "Demo long", "demo entry")
    )
    return alert_body(
        user_id=user.id,
        secret=user.webhook_secret,
        timestamp=timestamp,
        tv={
            "exchange": "BINANCE",
            "symbol": DEMO_SWAP_TICKER if short else "BTCUSDT",
            "timeframe": str(DEMO_TIMEFRAME),
            "action": side,
            "market_position": position,
            "market_position_size": "0.01",
            "prev_market_position": "flat",
            "prev_market_position_size": "0",
            "entry_price": entry_price,
            "close_price": entry_price,
            "order_size": "0.01",
        },
        strategy_info={"trade_id": trade, "alert_name": name, "alert_message": message},
        execution_intent={"type": "signal", "side": side, "position_size_type": "base", "precision_mode": "auto"},
    )


def demo_short_walk(entry_price: str) -> list[str]:
    """The prices that walk the demo short through: up through its legs, then down through its take-profits
    (on the perpetual's 0.1 tick)."""
    entry = Decimal(entry_price)
    return [f"{(entry * factor).quantize(Decimal('0.1')).normalize():f}" for factor in DEMO_SHORT_WALK]


def base_url() -> str:
    return settings.PUBLIC_BASE_URL
