"""The currency a position's figures are in, and when they are US dollars.

A group's statistics (invested, fees, realised and unrealised PnL, dust) are in its market's quote
currency: USDT for BTC/USDT, BTC for ETH/BTC; they are US dollars only where the quote is a USD
stablecoin. Totals across positions (the day's realised PnL and the circuit breaker, the PnL bars,
the risk engine's offsets) are in USD: a group's figures count at its ``quote_usd_rate`` — 1 for a
USD stablecoin, otherwise the last price of ``<quote>/USDT`` stored with the group's own price — and
a group whose rate is not known yet is left out of them (and said so where it matters).
"""

# Quotes counted as US dollars one for one (stablecoins and fiat USD).
USD_QUOTES = frozenset({"USD", "USDT", "USDC", "FDUSD", "BUSD", "TUSD", "DAI", "USDE", "PYUSD", "USDP"})
RATE_QUOTE = "USDT"  # a non-USD quote is priced in this


def quote_of(symbol: str) -> str:
    """'USDT' for 'BTC/USDT' and for the perpetual 'BTC/USDT:USDT'."""
    return symbol.split("/")[1].split(":")[0]


def is_usd(quote: str) -> bool:
    return quote.upper() in USD_QUOTES


def rate_symbol(quote: str) -> str | None:
    """The market whose price converts ``quote`` to USD; None when it is USD already."""
    return None if is_usd(quote) else f"{quote}/{RATE_QUOTE}"
