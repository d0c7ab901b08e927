"""TradingView ticker → the exchange's unified symbol, through the exchange's market list.

Pure: no ORM, no network. TradingView sends ``BTCUSDT``, ``BINANCE:BTCUSDT``, ``BTCUSDT.P``
(perpetual) or ``BTC/USDT``; we look each up among the markets the exchange really lists, by
unified symbol, by the exchange's market id, then by base+quote, instead of guessing at strings.
An account trades one market type (``ExchangeAccount.market_type``): given one, only markets of that
type are candidates (``BTCUSDT`` on a swap account is ``BTC/USDT:USDT``), and inverse perpetuals
(settled in the base coin, ``BTC/USD:BTC``) are refused.
"""

from collections.abc import Mapping

from exchanges.connector import BadSymbol, Market

PERPETUAL_SUFFIXES = (".P", ".PERP")
SPOT, SWAP = "spot", "swap"  # ExchangeAccount.MarketType's values


def is_perpetual_ticker(tv_symbol: str) -> bool:
    """Whether TradingView's ticker names a perpetual chart (``BTCUSDT.P``, ``BYBIT:BTCUSDT.PERP``)."""
    return (tv_symbol or "").strip().upper().endswith(PERPETUAL_SUFFIXES)


def inverse_refusal(tv_symbol: str, exchange_id: str, inverse: list[Market]) -> str:
    """The one message an inverse (coin-margined) perpetual is refused with, wherever it is met: resolving
    a ticker here, or a connector asked for a market it set aside (``CcxtConnector.market``)."""
    listed = ", ".join(sorted(m.symbol for m in inverse))
    base = inverse[0].base
    return (
        f"{tv_symbol!r} on {exchange_id} is an inverse (coin-margined) perpetual ({listed}, settled in {base}): "
        f"inverse perpetuals are not supported; use the USDT-margined one ({base}USDT.P). Nothing was traded."
    )


def resolve_tv_symbol(
    tv_symbol: str, markets: Mapping[str, Market], *, exchange_id: str, market_type: str | None = None
) -> str:
    """The unified symbol of ``tv_symbol`` among ``markets``; BadSymbol saying why there is none.

    ``market_type`` (spot | swap): the account's, and only markets of that type are candidates. None (an
    operator naming a paper market, no account): any type, spot preferred for a plain ticker.
    """
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
    if wants_perpetual and market_type == SPOT:
        raise BadSymbol(
            f"{tv_symbol!r} is a perpetual (.P) ticker and this {exchange_id} account trades spot: nothing was "
            f"traded on spot instead. Alert from the spot chart, or add a swap account on {exchange_id}."
        )

    if "/" in upper:
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
    if wants_perpetual or market_type == SWAP:
        # A .P chart trades a perpetual: never the spot market of the same pair, which would buy
        # or sell coins instead of a contract (and "short" the account's own coins).
        candidates = [m for m in candidates if m.type == SWAP]
        if not candidates:
            raise BadSymbol(
                f"{tv_symbol!r} is a perpetual (.P) ticker, but {exchange_id} lists no perpetual swap for it here: "
                f"nothing was traded on spot instead. Alert from the spot chart, or trade it on an exchange "
                f"account with that perpetual."
                if wants_perpetual
                else f"{exchange_id} lists no perpetual swap for {tv_symbol!r}, and this account trades swaps: "
                f"nothing was traded. Check the alert's ticker, or send it to your spot account."
            )
        linear = [m for m in candidates if not m.inverse]
        if not linear:
            raise BadSymbol(inverse_refusal(tv_symbol, exchange_id, candidates))
        candidates = linear
    elif market_type == SPOT:
        candidates = [m for m in candidates if m.type == SPOT]
        if not candidates:
            raise BadSymbol(
                f"{tv_symbol!r} names no spot market on {exchange_id}, and this account trades spot: nothing was "
                f"traded. Send perpetual alerts (.P tickers) to a swap account."
            )
    preferred = SWAP if wants_perpetual or market_type == SWAP else SPOT
    candidates.sort(key=lambda m: (m.type != preferred, not m.active, m.symbol))
    return candidates[0].symbol
