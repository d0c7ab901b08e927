"""The engine's trading vocabulary: position sides, take-profit modes, slippage actions and exit
reasons (Django choices, no ORM: pure modules compare with them, models store them)."""

from django.db.models import TextChoices


class Side(TextChoices):
    LONG = "long", "Long"
    SHORT = "short", "Short"


class TakeProfitMode(TextChoices):
    PER_LEG = "per_leg", "Per leg"
    AGGREGATE = "aggregate", "Aggregate"
    HYBRID = "hybrid", "Hybrid (per leg and aggregate, first wins)"
    PYRAMID_AGGREGATE = "pyramid_aggregate", "Per-pyramid aggregate"


class SlippageAction(TextChoices):
    WARN = "warn", "Warn"
    REJECT = "reject", "Reject (limit-protected order)"


class ExitReason(TextChoices):
    EXIT_SIGNAL = "exit_signal", "Exit signal"
    TAKE_PROFIT = "take_profit", "Per-leg take-profit"
    AGGREGATE_TP = "aggregate_tp", "Aggregate take-profit"
    PYRAMID_TP = "pyramid_tp", "Pyramid take-profit"
    STOP_LOSS = "stop_loss", "Stop loss"
    RISK_OFFSET = "risk_offset", "Risk offset"
    MANUAL = "manual", "Manual"
    REDUCE = "reduce", "Reduce"
    REVERSE = "reverse", "Reverse"
    # The exchange closed the position, not the engine (trading.services.exchange_positions): its exit price is
    # an estimate (the liquidation price, or the last mark price).
    LIQUIDATED = "liquidated", "Liquidated"
    CLOSED_ON_EXCHANGE = "closed_on_exchange", "Closed on exchange"
