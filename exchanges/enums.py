"""The exchange's order vocabulary, shared by the engine's orders and the paper exchange's."""

from django.db import models


class OrderSide(models.TextChoices):
    BUY = "buy", "Buy"
    SELL = "sell", "Sell"


class OrderType(models.TextChoices):
    LIMIT = "limit", "Limit"
    MARKET = "market", "Market"


class MarginMode(models.TextChoices):
    """How a swap position is margined: its own margin only, or the account's whole balance."""

    ISOLATED = "isolated", "Isolated"
    CROSS = "cross", "Cross"
