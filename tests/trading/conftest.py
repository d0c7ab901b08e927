from decimal import Decimal

import pytest
from django.core.management import call_command

from exchanges.paper.services import paper_price_set


@pytest.fixture
def trader_client(client, trader):
    """The dashboard's test client, logged in as the trader."""
    client.force_login(trader)
    return client


@pytest.fixture
def sol(trader):
    """SOL/USDT with a 0.1 lot so 300 USD over legs at 100/98/96 buys exactly 1.0 each."""
    call_command("paper", "market", "binance", "SOL/USDT", "--tick", "0.01", "--step", "0.1", "--min-notional", "5")
    paper_price_set(exchange_id="binance", symbol="SOL/USDT", price=Decimal("101"))
    return trader
