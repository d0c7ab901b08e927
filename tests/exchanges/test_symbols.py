"""TradingView tickers resolve through the exchange's market list (pure)."""

from decimal import Decimal

import pytest

from exchanges.connector import BadSymbol, Market
from exchanges.symbols import resolve_tv_symbol

D = Decimal
MARKETS = {
    m.symbol: m
    for m in (
        Market("BTC/USDT", "BTCUSDT", "BTC", "USDT", D("0.01"), D("0.00001")),
        Market("BTC/USDT:USDT", "BTCUSDT", "BTC", "USDT", D("0.1"), D("0.001"), type="swap"),
        Market("ETH/USDT", "ETHUSDT", "ETH", "USDT", D("0.01"), D("0.0001")),
        Market("XBT/USD", "XXBTZUSD", "XBT", "USD", D("0.1"), D("0.0001")),
    )
}


@pytest.mark.parametrize(
    "tv_symbol,expected",
    [
        ("BTCUSDT", "BTC/USDT"),
        ("BINANCE:BTCUSDT", "BTC/USDT"),
        ("btcusdt", "BTC/USDT"),
        ("BTC/USDT", "BTC/USDT"),
        ("BTCUSDT.P", "BTC/USDT:USDT"),
        ("BINANCE:BTCUSDT.P", "BTC/USDT:USDT"),
        ("ETHUSDT", "ETH/USDT"),
        ("XBTUSD", "XBT/USD"),  # id differs (XXBTZUSD): found by base + quote
    ],
)
def test_tradingview_forms_resolve_to_the_unified_symbol(tv_symbol, expected):
    assert resolve_tv_symbol(tv_symbol, MARKETS, exchange_id="binance") == expected


def test_a_perpetual_ticker_never_resolves_to_spot():
    # Row 10 of the books review: BTCUSDT.P silently traded spot on exchanges without that perpetual.
    spot_only = {"ETH/USDT": MARKETS["ETH/USDT"]}
    with pytest.raises(BadSymbol, match=r"perpetual \(\.P\) ticker.*nothing was traded on spot"):
        resolve_tv_symbol("ETHUSDT.P", spot_only, exchange_id="binance")


@pytest.mark.parametrize("tv_symbol", ["DOGEUSDT", "BINANCE:FOO", "SOL/USDT"])
def test_unknown_market_is_a_clear_error(tv_symbol):
    with pytest.raises(BadSymbol, match="binance"):
        resolve_tv_symbol(tv_symbol, MARKETS, exchange_id="binance")


def test_empty_symbol_says_what_to_send():
    with pytest.raises(BadSymbol, match="send tv.symbol like BTCUSDT"):
        resolve_tv_symbol(" ", MARKETS, exchange_id="binance")
