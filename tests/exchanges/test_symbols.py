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


# A venue listing spot, linear and inverse perpetuals of one coin (Bybit's shapes: BTCUSD is inverse).
VENUE = {
    m.symbol: m
    for m in (
        Market("BTC/USDT", "BTCUSDT", "BTC", "USDT", D("0.01"), D("0.000001")),
        Market(
            "BTC/USDT:USDT", "BTCUSDT", "BTC", "USDT", D("0.1"), D("0.001"), type="swap", settle="USDT", linear=True
        ),
        Market("BTC/USD:BTC", "BTCUSD", "BTC", "USD", D("0.5"), D("1"), type="swap", settle="BTC", linear=False),
        Market(
            "ETH/USDC:USDC", "ETHPERP", "ETH", "USDC", D("0.01"), D("0.01"), type="swap", settle="USDC", linear=True
        ),
        Market("SOL/USDT", "SOLUSDT", "SOL", "USDT", D("0.01"), D("0.01")),
    )
}


@pytest.mark.parametrize(
    "tv_symbol,market_type,expected",
    [
        ("BTCUSDT", "swap", "BTC/USDT:USDT"),
        ("BTCUSDT.P", "swap", "BTC/USDT:USDT"),
        ("BYBIT:BTCUSDT.P", "swap", "BTC/USDT:USDT"),
        ("BTC/USDT", "swap", "BTC/USDT:USDT"),
        ("ETHUSDC", "swap", "ETH/USDC:USDC"),  # id differs (ETHPERP): found by base + quote
        ("BTCUSDT", "spot", "BTC/USDT"),
        ("BTC/USDT", "spot", "BTC/USDT"),
        ("BTCUSDT", None, "BTC/USDT"),  # no account (an operator's paper market): spot first
    ],
)
def test_a_ticker_resolves_to_the_accounts_market_type_only(tv_symbol, market_type, expected):
    assert resolve_tv_symbol(tv_symbol, VENUE, exchange_id="bybit", market_type=market_type) == expected


@pytest.mark.parametrize("tv_symbol", ["BTCUSD.P", "BTCUSD", "BTC/USD"])
def test_an_inverse_perpetual_is_refused_with_a_clear_message(tv_symbol):
    with pytest.raises(BadSymbol, match="inverse perpetuals are not supported; use the USDT-margined one"):
        resolve_tv_symbol(tv_symbol, VENUE, exchange_id="bybit", market_type="swap")


def test_a_market_cached_without_the_linear_flag_is_still_known_inverse_by_its_settle():
    cached = {"BTC/USD:BTC": Market.from_json({**VENUE["BTC/USD:BTC"].as_json(), "linear": None, "settle": ""})}
    with pytest.raises(BadSymbol, match="inverse perpetuals are not supported"):
        resolve_tv_symbol("BTCUSD.P", cached, exchange_id="bybit", market_type="swap")


def test_a_perpetual_ticker_never_resolves_on_a_spot_account():
    with pytest.raises(BadSymbol, match=r"perpetual \(\.P\) ticker and this bybit account trades spot"):
        resolve_tv_symbol("BTCUSDT.P", VENUE, exchange_id="bybit", market_type="spot")


def test_a_swap_account_never_resolves_to_spot():
    with pytest.raises(BadSymbol, match="lists no perpetual swap for 'SOLUSDT', and this account trades swaps"):
        resolve_tv_symbol("SOLUSDT", VENUE, exchange_id="bybit", market_type="swap")


def test_a_spot_account_never_resolves_to_a_swap():
    with pytest.raises(BadSymbol, match="names no spot market on bybit, and this account trades spot"):
        resolve_tv_symbol("ETHUSDC", VENUE, exchange_id="bybit", market_type="spot")


def test_a_market_list_cached_before_settle_and_linear_were_kept_still_reads():
    old = {
        "symbol": "BTC/USDT:USDT",
        "market_id": "BTCUSDT",
        "base": "BTC",
        "quote": "USDT",
        "tick_size": "0.1",
        "step_size": "0.001",
        "type": "swap",
    }
    market = Market.from_json(old)
    assert (market.settle, market.linear, market.inverse) == ("", None, False)
    assert Market.from_json(market.as_json()) == market
