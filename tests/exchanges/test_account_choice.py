"""Which of a trader's accounts on one exchange an alert trades (pure: no database)."""

from dataclasses import dataclass

import pytest

from exchanges.account_choice import choose_account
from exchanges.connector import AccountNotUsable


@dataclass(frozen=True)
class Account:
    market_type: str
    label: str = ""
    exchange_id: str = "binance"


SPOT = Account("spot", "main")
SWAP = Account("swap", "perp")
UNLABELLED_SPOT = Account("spot")


def choose(accounts, tv_symbol="BTCUSDT", label="", labelled=()):
    return choose_account(accounts, exchange_id="binance", tv_symbol=tv_symbol, label=label, labelled=labelled)


@pytest.mark.parametrize(
    "accounts,tv_symbol,label,expected",
    [
        # A perpetual ticker goes to the swap account, a plain one to the spot account.
        ([SPOT, SWAP], "BTCUSDT.P", "", SWAP),
        ([SPOT, SWAP], "BINANCE:BTCUSDT.PERP", "", SWAP),
        ([SWAP, SPOT], "BTCUSDT", "", SPOT),
        ([SPOT, SWAP], "BTC/USDT", "", SPOT),
        # The only account on the exchange trades a plain ticker, whatever its market type.
        ([SPOT], "BTCUSDT", "", SPOT),
        ([SWAP], "BTCUSDT", "", SWAP),
        ([SWAP], "btcusdt.p", "", SWAP),
        # A label overrides the ticker's choice.
        ([SPOT, SWAP], "BTCUSDT", "perp", SWAP),
        ([SPOT, SWAP], "BTCUSDT.P", "perp", SWAP),
        ([SPOT, SWAP], "ETHUSDT", " main ", SPOT),
    ],
)
def test_the_account_an_alert_trades(accounts, tv_symbol, label, expected):
    assert choose(accounts, tv_symbol, label) is expected


@pytest.mark.parametrize(
    "accounts,tv_symbol,label,reason",
    [
        ([], "BTCUSDT", "", "No exchange account for 'binance'"),
        # A .P ticker never trades spot: not the only account, not a labelled one.
        ([SPOT], "BTCUSDT.P", "", "you have no swap account on binance (yours: “main” (binance spot))"),
        ([UNLABELLED_SPOT], "BTCUSDT.P", "", "the unlabelled binance spot account"),
        ([SPOT, SWAP], "BTCUSDT.P", "main", "names “main” (binance spot): a perpetual alert never trades spot"),
        # Two candidates: refused, naming both.
        (
            [SWAP, Account("swap", "perp 2")],
            "BTCUSDT.P",
            "",
            "Two of your binance accounts fit for a perpetual (.P) ticker: “perp” (binance swap), "
            "“perp 2” (binance swap)",
        ),
        (
            [SWAP, Account("swap", "perp 2")],
            "BTCUSDT",
            "",
            "your binance accounts are “perp” (binance swap), “perp 2” (binance swap), none of them spot",
        ),
        (
            [SPOT, Account("spot", "main 2")],
            "BTCUSDT",
            "",
            "Two of your binance accounts fit for a plain (spot) ticker: “main” (binance spot), "
            "“main 2” (binance spot)",
        ),
        # A label that names no account here.
        ([SPOT, SWAP], "BTCUSDT", "other", "Your binance accounts: “main” (binance spot), “perp” (binance swap)"),
        ([], "BTCUSDT", "other", "'other' names none of your binance accounts"),
    ],
)
def test_no_account_or_two_is_refused_naming_the_accounts(accounts, tv_symbol, label, reason):
    with pytest.raises(AccountNotUsable) as refused:
        choose(accounts, tv_symbol, label)
    assert reason in str(refused.value)
    assert "nothing was traded" in str(refused.value).lower() or not accounts


def test_a_label_on_another_exchange_is_named_and_not_traded():
    elsewhere = Account("swap", "bybit perp", exchange_id="bybit")
    with pytest.raises(AccountNotUsable, match=r"It names “bybit perp” \(bybit swap\), not an account on binance"):
        choose([SPOT], "BTCUSDT", "bybit perp", labelled=[elsewhere])
