"""Which connector a signal uses, and the errors a trader can act on."""

import pytest

from exchanges.connector import AccountNotUsable
from exchanges.paper.connector import PaperConnector
from exchanges.services.accounts import connector_for
from tests.factories import ExchangeAccountFactory

pytestmark = pytest.mark.django_db


def test_paper_account_gives_the_paper_connector(user):
    ExchangeAccountFactory(user=user, exchange_id="binance")
    assert isinstance(connector_for(user, "BINANCE"), PaperConnector)


def test_no_account_for_the_exchange_says_where_to_add_one(user):
    with pytest.raises(AccountNotUsable, match="No exchange account for 'bybit': add one in Settings"):
        connector_for(user, "bybit")


def test_disabled_account_is_refused(user):
    ExchangeAccountFactory(user=user, is_enabled=False)
    with pytest.raises(AccountNotUsable, match="disabled"):
        connector_for(user, "binance")


@pytest.mark.parametrize("mode", ["live", "testnet"])
def test_live_or_testnet_account_without_keys_is_refused(user, mode):
    ExchangeAccountFactory(user=user, mode=mode)
    with pytest.raises(AccountNotUsable, match=f"{mode} mode but has no API key"):
        connector_for(user, "binance")
