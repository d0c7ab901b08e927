"""Price feeds of the paper exchange (pure).

The synthetic feed is a seeded geometric random walk: step ``n`` of a symbol draws its move from a
generator seeded with (seed, exchange, symbol, n), so the same seed replays the same path whatever
else ran in between, and a price set by hand simply becomes the point the walk continues from.
"""

import math
import random
from decimal import Decimal

from exchanges.numbers import round_to_tick


def synthetic_next_price(
    *, price: Decimal, seed: int, exchange_id: str, symbol: str, step: int, volatility_percent: Decimal, tick: Decimal
) -> Decimal:
    rng = random.Random(f"{seed}:{exchange_id}:{symbol}:{step}")
    move = math.exp(float(volatility_percent) / 100 * rng.gauss(0.0, 1.0))
    next_price = round_to_tick(price * Decimal(repr(move)), tick)
    return max(next_price, tick)
