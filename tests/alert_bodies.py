"""The one TradingView alert body of the tests: ``alert_body`` builds it, each test overriding what it needs.

Plain Python (no Django): the stack and soak drivers use it too. ``tests.signals`` stores it as the
webhook does.
"""

import uuid
from datetime import UTC, datetime

OMIT = object()  # an override that leaves the key out of the alert


class Exactly(dict):
    """A section given whole: it replaces the alert's section instead of updating it."""


def now_text() -> str:
    """Now, as TradingView's ``{{timenow}}`` renders it."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def alert_body(*, user_id, **sections) -> dict:
    """The alert TradingView sends for a BTC long on Binance 15m (the README's template filled in),
    timestamped now, with a fresh trade id; without a secret unless one is given (as stored).

    ``sections`` override top-level keys: a dict updates that section (``tv={"symbol": "ETHUSDT"}``),
    an ``Exactly(...)`` replaces it, ``OMIT`` (at either level) leaves the key out.
    """
    body = {
        "user_id": str(user_id),
        "secret": OMIT,
        "source": "tradingview",
        "timestamp": now_text(),
        "tv": {
            "exchange": "BINANCE",
            "symbol": "BTCUSDT",
            "timeframe": "15",
            "action": "buy",
            "market_position": "long",
            "market_position_size": "0.01",
            "prev_market_position": "flat",
            "prev_market_position_size": "0",
            "entry_price": "60000.5",
            "close_price": "60001",
            "order_size": "0.01",
        },
        "strategy_info": {"trade_id": uuid.uuid4().hex, "alert_name": "BTC long", "alert_message": "entry"},
        "execution_intent": {"type": "signal", "side": "buy", "position_size_type": "base", "precision_mode": "auto"},
        "risk": {"max_slippage_percent": 0.5, "stop_loss": None, "take_profit": None},
    }
    return overridden(body, **sections)


def sent_alert(user, **sections) -> dict:
    """``alert_body`` as ``user``'s TradingView sends it to the webhook: with their id and secret."""
    return alert_body(**{"user_id": user.id, "secret": user.webhook_secret, **sections})


def overridden(body: dict, **sections) -> dict:
    """``body`` with ``sections`` applied as ``alert_body`` applies them (in place; returned)."""
    for key, value in sections.items():
        if isinstance(value, Exactly):
            body[key] = dict(value)
        elif isinstance(value, dict) and isinstance(body.get(key), dict):
            body[key].update(value)
        else:
            body[key] = value
    for section in [body, *(value for value in body.values() if isinstance(value, dict))]:
        for key in [key for key, value in section.items() if value is OMIT]:
            del section[key]
    return body
