"""Field sizes shared by every app's models."""

from typing import TypedDict


class DecimalSize(TypedDict):
    """A DecimalField's size, spread into the field: ``DecimalField(**MONEY)``."""

    max_digits: int
    decimal_places: int


# Money and quantities: 28 digits with 12 places covers BTC prices to 1e16 and SHIB-sized steps.
MONEY: DecimalSize = {"max_digits": 28, "decimal_places": 12}
