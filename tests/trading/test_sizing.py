"""Where a pyramid's size comes from, said out loud (pure, no database)."""

from decimal import Decimal

import pytest

from trading.sizing import amount_text, pyramid_sizing

D = Decimal


def sizing(**kwargs):
    values = {
        "capital_usd": D("1000"),
        "use_signal_size": False,
        "order_size": D("0.015"),
        "size_type": "contracts",
        "entry_price": D("60000"),
        "quote_usd_rate": D("1"),
        "base": "BTC",
        "quote": "USDT",
    }
    return pyramid_sizing(**{**values, **kwargs})


def test_a_configuration_sized_pyramid_says_the_alerts_size_was_not_used_and_how_to_follow_it():
    result = sizing()

    assert (result.capital, result.from_alert) == (D("1000"), False)
    assert result.note == (
        "1,000 USDT per pyramid from the configuration; the alert's 0.015 BTC was not used — "
        "turn on use_signal_size to follow the strategy"
    )


def test_an_alert_sized_pyramid_says_so():
    result = sizing(use_signal_size=True)

    assert (result.capital, result.from_alert) == (D("900.000"), True)  # 0.015 × 60,000
    assert result.note == "0.015 BTC from the alert (use_signal_size on)"


def test_an_alert_size_in_quote_is_named_in_the_quote():
    result = sizing(use_signal_size=True, order_size=D("250.5"), size_type="quote")

    assert (result.capital, result.note) == (D("250.5"), "250.50 USDT from the alert (use_signal_size on)")


@pytest.mark.parametrize(
    ("use_signal_size", "note"),
    [
        (False, "1,000 USDT per pyramid from the configuration (the alert carries no order size)"),
        (
            True,
            "1,000 USDT per pyramid from the configuration: use_signal_size is on, but the alert carries no order size",
        ),
    ],
)
def test_without_an_order_size_the_configuration_sizes_it(use_signal_size, note):
    result = sizing(use_signal_size=use_signal_size, order_size=None)

    assert (result.capital, result.from_alert, result.note) == (D("1000"), False, note)


def test_a_non_usd_quote_shows_the_configured_dollars_and_what_they_buy_in_the_quote():
    result = sizing(quote="BTC", base="ETH", quote_usd_rate=D("95000"), order_size=D("0.5"), entry_price=D("0.035"))

    assert result.note == (
        "1,000 USD (0.010526316 BTC) per pyramid from the configuration; the alert's 0.5 ETH was "
        "not used — turn on use_signal_size to follow the strategy"
    )


@pytest.mark.parametrize(
    ("value", "currency", "text"),
    [
        (D("1000"), "USDT", "1,000 USDT"),
        (D("1234.5"), "USDT", "1,234.50 USDT"),
        (D("0.010526315789"), "BTC", "0.010526316 BTC"),
        (D("0.0150"), "ETH", "0.015 ETH"),
        (D("0"), "BTC", "0 BTC"),
    ],
)
def test_amounts_read_like_money(value, currency, text):
    assert amount_text(value, currency) == text
