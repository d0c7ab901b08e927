"""TradingView ticker → the exchange's unified symbol, through the exchange's market list.

Pure: no ORM, no network. TradingView sends ``BTCUSDT``, ``BINANCE:BTCUSDT``, ``BTCUSDT.P``
(perpetual) or ``BTC/USDT``; we look each up among the markets the exchange really lists, by
unified symbol, by the exchange's market id, then by base+quote, instead of guessing at strings.
"""

from collections.abc import Mapping

from exchanges.connector import BadSymbol, Market

PERPETUAL_SUFFIXES = (".P", ".PERP")


def resolve_tv_symbol(tv_symbol: str, markets: Mapping[str, Market], *, exchange_id: str) -> str:
    raw = (tv_symbol or "").strip()
    ticker = raw.split(":", 1)[1] if ":" in raw and "/" not in raw else raw
    upper = ticker.upper()
    wants_perpetual = upper.endswith(PERPETUAL_SUFFIXES)
    for suffix in PERPETUAL_SUFFIXES:
        if upper.endswith(suffix):
            upper = upper[: -len(suffix)]
            break
    if not upper:
        raise BadSymbol(f"Empty symbol {tv_symbol!r}: send tv.symbol like BTCUSDT or BTC/USDT.")

    if "/" in upper:
        if upper in markets:
            return upper
        candidates = [
            m for m in markets.values() if m.symbol.upper() == upper or m.symbol.split(":")[0].upper() == upper
        ]
    else:
        candidates = [m for m in markets.values() if m.market_id.upper() == upper]
        if not candidates:
            candidates = [m for m in markets.values() if f"{m.base}{m.quote}".upper() == upper]

    if not candidates:
        raise BadSymbol(
            f"Unknown market {tv_symbol!r} on {exchange_id}: it lists no such symbol. "
            f"Check the alert's ticker, or add the market (paper: `python manage.py paper market`)."
        )
    if wants_perpetual:
        # A .P chart trades a perpetual: never the spot market of the same pair, which would buy
        # or sell coins instead of a contract (and "short" the account's own coins).
        candidates = [m for m in candidates if m.type == "swap"]
        if not candidates:
            raise BadSymbol(
                f"{tv_symbol!r} is a perpetual (.P) ticker, but {exchange_id} lists no perpetual swap for it here: "
                f"nothing was traded on spot instead. Alert from the spot chart, or trade it on an exchange "
                f"account with that perpetual."
            )
    preferred = "swap" if wants_perpetual else "spot"
    candidates.sort(key=lambda m: (m.type != preferred, not m.active, m.symbol))
    return candidates[0].symbol
