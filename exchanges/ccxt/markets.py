"""Market lists, cached across processes.

``CcxtConnector.load_markets`` keeps the market list in Django's cache (Redis in production) for
``MARKETS_CACHE_SECONDS``, together with ccxt's own parsed market dicts, so a worker handling a
signal installs them into ccxt with ``set_markets`` instead of downloading Binance's multi-megabyte
exchangeInfo again. Markets without price/amount precision are left out of the list (with a
"missing precision" BadSymbol when someone asks for one); option markets are left out because the
engine never trades them. A swap account's list holds linear perpetuals only: inverse (coin-margined)
ones are kept apart in ``refused`` (never traded; exchanges.symbols refuses a ticker naming one, with
its one message), other types left out. A contract market's step and minimum quantity are stored in
the base asset (ccxt's contract figures × ``contractSize``).

Three holders, looked at in order: the connector's installed snapshot, this process's copy
(``_process_markets``: a per-process cache by design, dropped by ``forget_process_markets``), and
the shared cache.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache

from exchanges.ccxt.precision import increment_from_precision, to_decimal
from exchanges.connector import Market

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MarketsSnapshot:
    markets: dict[str, Market]
    without_precision: dict[str, Market]  # listed by the exchange, but not tradable by us
    ccxt_markets: list[dict]  # ccxt's own parsed markets, for client.set_markets
    loaded_at: float  # wall-clock seconds
    refused: dict[str, Market] = field(default_factory=dict)  # listed, but never traded: inverse contracts

    def payload(self) -> dict:
        return {
            "markets": [m.as_json() for m in self.markets.values()],
            "without_precision": [m.as_json() for m in self.without_precision.values()],
            "ccxt_markets": self.ccxt_markets,
            "loaded_at": self.loaded_at,
            "refused": [m.as_json() for m in self.refused.values()],
        }

    @classmethod
    def from_payload(cls, payload: dict) -> MarketsSnapshot:
        markets = [Market.from_json(row) for row in payload["markets"]]
        without = [Market.from_json(row) for row in payload["without_precision"]]
        return cls(
            markets={m.symbol: m for m in markets},
            without_precision={m.symbol: m for m in without},
            ccxt_markets=payload["ccxt_markets"],
            loaded_at=payload["loaded_at"],
            refused={m.symbol: m for m in map(Market.from_json, payload.get("refused") or [])},
        )


_process_markets: dict[str, MarketsSnapshot] = {}
_process_markets_lock = threading.Lock()


def markets_cache_key(exchange_id: str, mode: str, market_type: str = "spot") -> str:
    key = f"exchanges:markets:v1:{exchange_id}:{mode}"
    return key if market_type == "spot" else f"{key}:{market_type}"  # a spot list keeps its old key


def forget_process_markets() -> None:
    """Drop this process's copy of every market list (the shared cache keeps its own)."""
    with _process_markets_lock:
        _process_markets.clear()


def markets_ttl() -> int:
    return int(getattr(settings, "MARKETS_CACHE_SECONDS", 3600))


def fresh(snapshot: MarketsSnapshot | None, ttl: int) -> MarketsSnapshot | None:
    if snapshot is not None and time.time() - snapshot.loaded_at < ttl:
        return snapshot
    return None


def in_process(key: str) -> MarketsSnapshot | None:
    """This process's copy of the market list under ``key``, fresh or not."""
    return _process_markets.get(key)


def keep_in_process(key: str, snapshot: MarketsSnapshot) -> None:
    with _process_markets_lock:
        _process_markets[key] = snapshot


def from_shared_cache(key: str, exchange_id: str) -> MarketsSnapshot | None:
    try:
        payload = cache.get(key)
        return MarketsSnapshot.from_payload(payload) if payload else None
    except Exception:
        logger.exception("could not read %s markets from the cache; loading them from the exchange", exchange_id)
        return None


def store_in_shared_cache(key: str, snapshot: MarketsSnapshot, ttl: int, exchange_id: str) -> None:
    try:
        cache.set(key, snapshot.payload(), timeout=ttl)
    except Exception:  # the cache only saves a download; trading must not depend on it
        logger.exception("could not store %s markets in the cache", exchange_id)


def snapshot_from_ccxt(
    raw_markets: dict, precision_mode: int, exchange_id: str, market_type: str = "spot"
) -> MarketsSnapshot:
    """The snapshot of what ccxt's ``load_markets`` returned: options left out, markets without
    precision set apart; for a swap account, linear perpetuals only (inverse ones refused with a reason)."""
    markets: dict[str, Market] = {}
    without_precision: dict[str, Market] = {}
    refused: dict[str, Market] = {}
    ccxt_markets: list[dict] = []
    for raw in raw_markets.values():
        if raw.get("type") == "option" or raw.get("option"):
            continue
        if market_type == "swap":
            if not raw.get("swap"):
                continue
            if raw.get("inverse") or raw.get("linear") is False:
                refused[raw["symbol"]] = market_from_ccxt(raw, precision_mode)[0]
                continue
        market, has_precision = market_from_ccxt(raw, precision_mode)
        (markets if has_precision else without_precision)[market.symbol] = market
        ccxt_markets.append(raw)
    if without_precision:
        logger.info(
            "%s: %d markets without precision left out: %s",
            exchange_id,
            len(without_precision),
            ", ".join(sorted(without_precision)[:10]),
        )
    return MarketsSnapshot(markets, without_precision, ccxt_markets, loaded_at=time.time(), refused=refused)


def market_from_ccxt(raw: dict, precision_mode: int) -> tuple[Market, bool]:
    """Our Market for one ccxt market dict, and whether it has the precision orders need. A contract
    market's amounts count contracts in ccxt; ours count the base asset."""
    precision = raw.get("precision") or {}
    limits = raw.get("limits") or {}
    tick = increment_from_precision(precision.get("price"), precision_mode)
    step = increment_from_precision(precision.get("amount"), precision_mode)
    contract_size = (to_decimal(raw.get("contractSize")) if raw.get("contract") else None) or Decimal(1)
    if contract_size <= 0:
        contract_size, step = Decimal(1), None  # cannot be sized: set apart as without precision
    min_contracts = to_decimal((limits.get("amount") or {}).get("min")) or Decimal(0)
    market = Market(
        symbol=raw["symbol"],
        market_id=str(raw["id"]),
        base=raw.get("base") or "",
        quote=raw.get("quote") or "",
        tick_size=tick or Decimal(0),
        step_size=in_base(step, contract_size) if step else Decimal(0),
        min_qty=in_base(min_contracts, contract_size),
        min_notional=to_decimal((limits.get("cost") or {}).get("min")) or Decimal(0),
        type=raw.get("type") or "spot",
        active=raw.get("active") is not False,  # ccxt says None when the exchange does not tell
        settle=raw.get("settle") or "",
        linear=raw.get("linear") if raw.get("contract") else None,
        contract_size=contract_size,
    )
    return market, tick is not None and step is not None


def in_base(contracts: Decimal, contract_size: Decimal) -> Decimal:
    """A number of contracts in the base asset; unchanged (same Decimal) where a contract is one unit."""
    if contract_size == 1:
        return contracts
    return Decimal(format((contracts * contract_size).normalize(), "f"))
