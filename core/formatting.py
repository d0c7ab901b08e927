"""Plain-text formatting shared by the pages and the Telegram messages (pure: no Django, no app)."""

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal


def format_duration(elapsed: timedelta) -> str:
    """15m under an hour, 2.5h under a day, 1.2d beyond."""
    hours = Decimal(elapsed.total_seconds()) / 3600
    if hours < 1:
        return f"{int(hours * 60)}m"
    if hours < 24:
        return f"{_one_decimal(hours)}h"
    return f"{_one_decimal(hours / 24)}d"


def _one_decimal(value: Decimal) -> str:
    text = str(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
    return text[:-2] if text.endswith(".0") else text
