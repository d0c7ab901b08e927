"""Which of a trader's accounts on one exchange an alert trades (pure: no ORM, no network).

A trader may hold a spot and a swap account on one exchange (``ExchangeAccount.market_type``). The
alert names the exchange (``tv.exchange``), its ticker says spot or perpetual (``BTCUSDT`` or
``BTCUSDT.P``), and ``execution_intent.account`` may name an account by its label:

1. a label picks the account with that label on that exchange (whatever the ticker, except that a
   ``.P`` ticker never trades a spot account);
2. a ``.P`` / ``.PERP`` ticker → the swap account on that exchange, never a spot one;
3. a plain ticker → the only account on that exchange, whatever its market type (many traders chart
   spot and trade the perpetual); with several, the spot account.

No matching account, or two candidates, is a refusal whose message names the accounts (label and
market type) and says how to pick one.
"""

from collections.abc import Sequence
from typing import Protocol, TypeVar

from exchanges.connector import AccountNotUsable
from exchanges.symbols import SPOT, SWAP, is_perpetual_ticker


class AccountLike(Protocol):
    """What the choice reads of an account (``ExchangeAccount`` has it)."""

    exchange_id: str
    market_type: str
    label: str


A = TypeVar("A", bound=AccountLike)


def describe(account: AccountLike) -> str:
    """An account as a refusal names it: its label and market type."""
    if account.label:
        return f"“{account.label}” ({account.exchange_id} {account.market_type})"
    return f"the unlabelled {account.exchange_id} {account.market_type} account"


def _listing(accounts: Sequence[AccountLike]) -> str:
    return ", ".join(describe(account) for account in accounts)


def choose_account(
    accounts: Sequence[A], *, exchange_id: str, tv_symbol: str, label: str = "", labelled: Sequence[A] = ()
) -> A:
    """The account of ``accounts`` (the trader's accounts on ``exchange_id``) the alert trades.

    ``label``: the alert's ``execution_intent.account`` ("" when absent). ``labelled``: the trader's accounts
    carrying that label on other exchanges, only to say so when the label names none here.
    Raises ``AccountNotUsable`` with the reason.
    """
    perpetual = is_perpetual_ticker(tv_symbol)
    label = (label or "").strip()
    if label:
        named = [account for account in accounts if account.label == label]
        if not named:
            elsewhere = f" It names {_listing(labelled)}, not an account on {exchange_id}." if labelled else ""
            yours = f" Your {exchange_id} accounts: {_listing(accounts)}." if accounts else ""
            raise AccountNotUsable(
                f"execution_intent.account {label!r} names none of your {exchange_id} accounts.{elsewhere}{yours} "
                f"Nothing was traded: send the label of an account on {exchange_id} (Settings → Exchange accounts)."
            )
        chosen = _one(named, exchange_id, f"labelled {label!r}")
        if perpetual and chosen.market_type == SPOT:
            raise AccountNotUsable(
                f"{tv_symbol!r} is a perpetual (.P) ticker, but execution_intent.account {label!r} names "
                f"{describe(chosen)}: a perpetual alert never trades spot. Nothing was traded."
            )
        return chosen
    if not accounts:
        raise AccountNotUsable(
            f"No exchange account for {exchange_id!r}: add one in Settings → Exchange accounts "
            f"(mode paper for a dry run)."
        )
    if perpetual:
        swaps = [account for account in accounts if account.market_type == SWAP]
        if not swaps:
            raise AccountNotUsable(
                f"{tv_symbol!r} is a perpetual (.P) ticker and you have no swap account on {exchange_id} "
                f"(yours: {_listing(accounts)}): a perpetual alert never trades spot. Nothing was traded: add a "
                f"swap account on {exchange_id}, or alert from the spot chart."
            )
        return _one(swaps, exchange_id, "for a perpetual (.P) ticker")
    if len(accounts) == 1:
        return accounts[0]
    spots = [account for account in accounts if account.market_type == SPOT]
    if not spots:
        raise AccountNotUsable(
            f"{tv_symbol!r} is a plain (spot) ticker and your {exchange_id} accounts are {_listing(accounts)}, none "
            f"of them spot: nothing was traded. Name one in execution_intent.account (its label), or alert from "
            f"the perpetual (.P) chart."
        )
    return _one(spots, exchange_id, "for a plain (spot) ticker")


def _one(candidates: Sequence[A], exchange_id: str, what: str) -> A:
    if len(candidates) > 1:
        raise AccountNotUsable(
            f"Two of your {exchange_id} accounts fit {what}: {_listing(candidates)}. Nothing was traded: "
            f"name one in execution_intent.account (its label)."
        )
    return candidates[0]
