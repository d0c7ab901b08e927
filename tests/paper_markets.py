"""The paper exchange's market the walkthrough trades on: Binance's BTC/USDT filters, listed for a test."""

from django.core.management import call_command

# ``manage.py paper market``'s filters for the walkthrough's pairs: prices on 0.01, amounts on 0.001, 10 USDT notional.
WALKTHROUGH_FILTERS = ("--tick", "0.01", "--step", "0.001", "--min-qty", "0.001", "--min-notional", "10")


def list_paper_market(symbol: str = "BTC/USDT", **options) -> None:
    """``manage.py paper market binance <symbol>`` with the walkthrough's filters (``options`` go to call_command)."""
    call_command("paper", "market", "binance", symbol, *WALKTHROUGH_FILTERS, **options)
