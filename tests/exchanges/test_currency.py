"""Which currency a position's figures are in, without a database."""

import pytest

from exchanges.currency import is_usd, quote_of, rate_symbol


@pytest.mark.parametrize(
    "symbol, quote", [("BTC/USDT", "USDT"), ("ETH/BTC", "BTC"), ("BTC/USDT:USDT", "USDT"), ("SOL/EUR", "EUR")]
)
def test_the_quote_of_a_symbol(symbol, quote):
    assert quote_of(symbol) == quote


def test_usd_stablecoins_count_one_for_one_and_other_quotes_need_a_market_to_convert():
    assert is_usd("USDT") and is_usd("usdc") and is_usd("FDUSD")
    assert not is_usd("BTC") and not is_usd("EUR")
    assert (rate_symbol("USDC"), rate_symbol("BTC"), rate_symbol("EUR")) == (None, "BTC/USDT", "EUR/USDT")
