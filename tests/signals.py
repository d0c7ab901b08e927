"""Alerts as the webhook stores them, for tests that route signals without going through HTTP."""

from decimal import Decimal

from tests.alert_bodies import OMIT, alert_body
from trading.alerts import AlertInvalid, parse_alert
from trading.models import Signal


def alert_payload(
    user,
    *,
    intent="signal",
    side="buy",
    symbol="BTCUSDT",
    entry_price="100",
    timeframe="15",
    order_size="",
    size_type="quote",
    prev_market_position="flat",
    market_position="long",
    account=None,
    **extra,
):
    """A quote-sized alert as the webhook stores it (no secret); ``extra`` replaces top-level keys whole.
    ``account``: the label sent in ``execution_intent.account`` (None: the key is left out)."""
    payload = alert_body(
        user_id=user.id,
        tv={
            "symbol": symbol,
            "timeframe": timeframe,
            "action": side if side in ("buy", "sell") else "buy",
            "market_position": market_position,
            "market_position_size": OMIT,
            "prev_market_position": prev_market_position,
            "prev_market_position_size": OMIT,
            "entry_price": entry_price,
            "close_price": entry_price,
            "order_size": order_size,
        },
        strategy_info={"trade_id": "t1", "alert_name": "test", "alert_message": ""},
        execution_intent={"type": intent, "side": side, "position_size_type": size_type},
    )
    if account is not None:
        payload["execution_intent"]["account"] = account
    payload.update(extra)
    return payload


def stored_signal(user, **kwargs) -> Signal:
    """A signal as the webhook stores it (payload without the secret), ready to be routed; its intent is
    the one the webhook records (an ``auto`` alert's derived intent)."""
    payload = alert_payload(user, **kwargs)
    try:
        intent = parse_alert(payload, now=None, replay_window_seconds=0).intent
    except AlertInvalid:  # a payload made invalid on purpose: routing rejects it
        intent = payload["execution_intent"]["type"]
    return Signal.objects.create(
        user=user,
        payload=payload,
        intent=intent,
        exchange="binance",
        tv_symbol=payload["tv"]["symbol"],
        timeframe=int(payload["tv"]["timeframe"]),
        entry_price=Decimal(payload["tv"]["entry_price"]),
    )
