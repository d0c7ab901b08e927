"""Where a pyramid's size comes from, said in words a trader can act on (pure).

A pyramid is sized from the DCA configuration's ``capital_usd`` unless ``use_signal_size`` is on and
the alert carries an order size (``trading.grid.capital_for_signal``). A strategy's alerts always
carry one (``{{strategy.order.contracts}}``), so a configuration-sized position silently differs
from the strategy's; the note says so, and how to follow the strategy instead. It is stored on the
pyramid (the position page shows it) and ends the signal's reason.
"""

from dataclasses import dataclass
from decimal import Decimal

from exchanges.currency import is_usd
from trading.grid import capital_for_signal

# Significant digits of an amount in a non-USD quote (0.010526316 BTC): two decimals would show 0.01.
NON_USD_DIGITS = 8


@dataclass(frozen=True)
class Sizing:
    capital: Decimal  # the pyramid's capital in the market's quote currency
    from_alert: bool
    note: str  # "1,000 USDT per pyramid from the configuration; the alert's 0.015 BTC was not used — …"


def amount_text(value: Decimal, currency: str) -> str:
    """1,000 USDT; 1,234.50 USDT; 0.010526316 BTC; 0.015 BTC."""
    if is_usd(currency):
        text = f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.2f}"
    elif not value:
        text = "0"
    else:
        exponent = value.adjusted() - NON_USD_DIGITS + 1
        rounded = value.quantize(Decimal(1).scaleb(exponent)) if exponent < 0 else value
        text = f"{rounded.normalize():f}"
    return f"{text} {currency}"


def pyramid_sizing(
    *,
    capital_usd: Decimal,
    use_signal_size: bool,
    order_size: Decimal | None,
    size_type: str,
    entry_price: Decimal,
    quote_usd_rate: Decimal,
    base: str,
    quote: str,
) -> Sizing:
    """The pyramid's capital (as ``capital_for_signal``) and where it came from."""
    capital = capital_for_signal(
        capital_usd=capital_usd,
        use_signal_size=use_signal_size,
        order_size=order_size,
        size_type=size_type,
        entry_price=entry_price,
        quote_usd_rate=quote_usd_rate,
    )
    has_size = order_size is not None and order_size > 0
    alert_size = ""
    if order_size is not None and has_size:
        alert_size = amount_text(order_size, quote) if size_type == "quote" else f"{order_size.normalize():f} {base}"
    if use_signal_size and has_size:
        return Sizing(capital, True, f"{alert_size} from the alert (use_signal_size on)")
    configured = (
        amount_text(capital_usd, quote)
        if is_usd(quote)
        else (f"{amount_text(capital_usd, 'USD')} ({amount_text(capital, quote)})")
    )
    configured = f"{configured} per pyramid from the configuration"
    if has_size:
        return Sizing(
            capital,
            False,
            f"{configured}; the alert's {alert_size} was not used — turn on use_signal_size to follow the strategy",
        )
    if use_signal_size:
        return Sizing(capital, False, f"{configured}: use_signal_size is on, but the alert carries no order size")
    return Sizing(capital, False, f"{configured} (the alert carries no order size)")
