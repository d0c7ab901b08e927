"""Funding payments on swap positions: fetched from the exchange, shared among the groups that held the
position when each was paid, recorded once, and realised in those groups' PnL.

Per (swap account, symbol) with a live or recently closed group, ``funding_sync`` asks the exchange for
the funding booked since the oldest such group opened, or since the last payment already recorded or seen
if that is later (outside any transaction): the cursor. An exchange may answer only a window from the
start it is given (Bybit: ``FUNDING_FETCH_WINDOW``, 7 days from ``startTime``): when an answer holds no
payment newer than the cursor and that window ended in the past, the cursor moves on by the window less
``FUNDING_WINDOW_OVERLAP`` and the next window is asked, up to ``FUNDING_WINDOWS_PER_RUN`` windows in one
run; the next run goes on from there. (A window that holds payments moves the cursor to the newest of them.)
Each payment then goes to the groups of that account and symbol that were open at its time (opened at or
before it, not closed before it) and held a position:

- the quantity each held at that moment (its fills replayed up to the payment, ``trading.stats.held_at``)
  is its weight; ``trading.stats.split_funding`` shares the payment by those weights, the rounding's
  remainder to the oldest group, so the shares add up to the payment exactly;
- a payment that says which position paid it (Bybit: ``position_side``) goes only to groups on that
  side: in hedge mode a long and a short on one symbol are two positions with their own funding. One
  that does not say (Binance's income records, in either mode) is shared by every group that held,
  whatever its side: in one-way mode there is only one side; in hedge mode the sum over the groups is
  right and the split between a long and a short is by quantity, not by who paid;
- a fill's time is when the engine noticed it (the fill sync, every few seconds), not when the exchange
  filled it: an entry filled at 07:59:58 and noticed at 08:00:01 held nothing "at" 08:00. So when no group
  held anything at the payment's time, the attribution is tried again counting the fills noticed up to
  ``FILL_NOTICE_GRACE`` (60 s) after it. The strict attribution comes first: a group that joined just after
  the instant never takes a share from one that held at it;
- a payment no group held a position for even then (before the first fill, a trader's own position on the
  same symbol) is not recorded; nor is one without a time. While the grace has not passed yet (a fill
  may still be noticed), such a payment is left for the next run: the cursor does not move past it.

A payment is recorded as one row per group share, written together; the unique constraint on its part 0
makes a payment seen twice (an exchange answering twice, overlapping fetches, two runs at once) a
no-op. The groups that got a share have their statistics replayed (``group_refresh_stats``: funding is
part of the realised PnL and kept apart as ``funding_pnl_usd``); a closed group's close record follows.
"""

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Max, Min, Q
from django.utils import timezone

from exchanges.connector import Connector
from exchanges.connector import FundingPayment as ExchangeFundingPayment
from exchanges.models import ExchangeAccount
from exchanges.services.accounts import connector_for_account
from trading import journal
from trading.models import FundingPayment, PositionGroup
from trading.services.fills import group_fills, group_refresh_stats
from trading.states import GROUP_ACTIVE_STATUSES, GroupStatus
from trading.stats import FillEvent, held_at, split_funding

logger = logging.getLogger(__name__)

# What an exchange answers, at most, from the start it is given: Bybit's /v5/execution/list with only a
# startTime answers [startTime, startTime + 7 days] (ccxt sends no endTime). Binance and the paper exchange
# answer from the start onwards; an empty answer then means nothing was booked since, and moving on is right.
FUNDING_FETCH_WINDOW = timedelta(days=7)
# How far back of a window's end the next window starts: a payment listed a little late, or a boundary the
# exchange counts differently, is asked again (payments are unique: asking twice records nothing twice).
FUNDING_WINDOW_OVERLAP = timedelta(hours=1)
# Windows asked in one run at most, when they hold nothing: a cursor weeks behind catches up over a few runs.
FUNDING_WINDOWS_PER_RUN = 10
# How long after an exchange fill the engine may notice it (one fill-sync cycle, with room for a slow one): a
# payment no group held for at its time goes to the groups that held once the fills noticed this long after it
# are counted.
FILL_NOTICE_GRACE = timedelta(seconds=60)


def funding_lookback() -> timedelta:
    """How long after its close a group still collects funding booked late (settings.FUNDING_CLOSED_LOOKBACK_HOURS)."""
    return timedelta(hours=getattr(settings, "FUNDING_CLOSED_LOOKBACK_HOURS", 24))


def _relevant_groups(account_id=None, symbol: str | None = None):
    """Swap groups whose funding may still come: live ones, and those closed within the look-back."""
    groups = PositionGroup.objects.filter(exchange_account__market_type=ExchangeAccount.MarketType.SWAP).filter(
        Q(status__in=[s.value for s in GROUP_ACTIVE_STATUSES])
        | Q(status=GroupStatus.CLOSED, closed_at__gte=timezone.now() - funding_lookback())
    )
    if account_id is not None:
        groups = groups.filter(exchange_account_id=account_id)
    if symbol is not None:
        groups = groups.filter(symbol=symbol)
    return groups


def funding_targets() -> list[tuple[int, str]]:
    """(swap account id, symbol) pairs to ask for funding: one task each per run. Spot accounts never."""
    return list(_relevant_groups().order_by().values_list("exchange_account_id", "symbol").distinct())


def _seen_key(account_id, symbol: str) -> str:
    return f"funding-seen:{account_id}:{symbol}"


def funding_since(account_id, symbol: str) -> datetime | None:
    """The oldest relevant group's opening, or where the last run stopped if that is later: the last payment
    seen, or the end of the empty windows asked, or a payment still waiting for its holder's fill to be noticed
    (``FILL_NOTICE_GRACE``); without that mark (the cache lost it), the last payment recorded.

    Exchanges answer a page (Binance 100 records, Bybit 7 days from the start): the last payment seen,
    recorded or not (no group held for it), moves the start on even when a page recorded nothing, and so does
    a window that held nothing. It is kept in the cache; without it the fetch starts earlier again and records
    nothing twice (payments are unique)."""
    opened = _relevant_groups(account_id, symbol).aggregate(oldest=Min("created_at"))["oldest"]
    if opened is None:
        return None
    seen = cache.get(_seen_key(account_id, symbol))
    if seen is not None:  # where the last run stopped: before a later payment recorded when one still waits
        return max(opened, seen)
    payments = FundingPayment.objects.filter(exchange_account_id=account_id, symbol=symbol)
    last = payments.aggregate(last=Max("paid_at"))["last"]
    return max(opened, last) if last is not None else opened


def funding_sync(*, account_id, symbol: str, connector: Connector | None = None) -> int:
    """Fetch, share and record the funding of one (swap account, symbol); returns the payments recorded.

    Raises the connector's ``ExchangeError`` (the caller logs it; the next run asks again)."""
    account = ExchangeAccount.objects.get(pk=account_id)
    if account.market_type != ExchangeAccount.MarketType.SWAP:
        return 0  # spot has no funding: the exchange is never asked
    since = funding_since(account_id, symbol)
    if since is None:
        return 0
    connector = connector or connector_for_account(account)
    now = timezone.now()
    payments: list[ExchangeFundingPayment] = []
    cursor = since
    for _ in range(FUNDING_WINDOWS_PER_RUN):
        page = connector.fetch_funding_history(symbol, since=cursor)
        payments += page
        if any(p.timestamp is not None and p.timestamp > cursor for p in page):
            break  # the cursor moves to the newest payment, below
        if cursor + FUNDING_FETCH_WINDOW >= now:
            break  # nothing since the cursor, up to now: the next run asks from it again
        cursor += FUNDING_FETCH_WINDOW - FUNDING_WINDOW_OVERLAP  # an empty window, ended: the next one (or run)
    fills: dict = {}  # group id -> its fill events, replayed once per run
    recorded = 0
    touched: set = set()
    waiting: list[datetime] = []  # payments no group held for yet, within the grace: asked again next run
    for payment in payments:
        groups = _record(account, symbol, payment, fills, now)
        if groups is None and payment.timestamp is not None:  # None: it has a time, within the grace
            waiting.append(payment.timestamp)
        elif groups:
            recorded += 1
            touched |= groups
    for group_id in sorted(touched, key=str):
        group = group_refresh_stats(group_id=group_id)
        if group.status == GroupStatus.CLOSED:
            journal.trade_close_pnl_refresh(group)
    # Only once every payment fetched was dealt with: the newest one seen, not past one still waiting.
    stamps = [payment.timestamp for payment in payments if payment.timestamp is not None]
    if stamps:
        cursor = max(cursor, max(stamps))
    if waiting:
        cursor = max(since, min(cursor, min(waiting)))
    if cursor > since:
        cache.set(_seen_key(account_id, symbol), cursor, timeout=int(funding_lookback().total_seconds()) + 86400)
    return recorded


def _payment_key(payment: ExchangeFundingPayment) -> str:
    """The exchange's id; for one without (never seen, but answers can lack fields), its time and amount."""
    if payment.id:
        return payment.id[:128]
    stamp = int(payment.timestamp.timestamp() * 1000) if payment.timestamp else 0
    return f"t{stamp}:{payment.amount.normalize():f}"[:128]


def _record(
    account: ExchangeAccount, symbol: str, payment: ExchangeFundingPayment, fills: dict, now: datetime
) -> set | None:
    """Record one payment's shares; the ids of the groups that got one (empty: not recorded, or recorded before;
    None: no group held for it yet, but a fill noticed within ``FILL_NOTICE_GRACE`` of it may still come)."""
    if payment.timestamp is None:
        logger.warning("funding payment %s on %s without a time: not recorded", payment.id, symbol)
        return set()
    key = _payment_key(payment)
    if FundingPayment.objects.filter(exchange_account=account, symbol=symbol, exchange_payment_id=key).exists():
        return set()
    at = payment.timestamp
    open_then = (
        PositionGroup.objects.filter(exchange_account=account, symbol=symbol, created_at__lte=at)
        .exclude(status=GroupStatus.FAILED)
        .filter(Q(closed_at__isnull=True) | Q(closed_at__gte=at))
        .order_by("created_at", "pk")
    )
    if payment.position_side:
        open_then = open_then.filter(side=payment.position_side)
    candidates = list(open_then)
    holders = _holders(candidates, fills, at)
    if not holders:  # the fills that made it a holder may have been noticed just after the instant
        holders = _holders(candidates, fills, at + FILL_NOTICE_GRACE)
    shares = split_funding(payment.amount, [held for _, held in holders])
    if not shares and now < at + FILL_NOTICE_GRACE:
        return None
    if not shares:
        logger.info(
            "funding payment %s of %s %s on %s at %s: no group held the position, not recorded",
            key,
            payment.amount,
            payment.currency,
            symbol,
            at,
        )
        return set()
    rows = [
        FundingPayment(
            group=group,
            exchange_account=account,
            symbol=symbol,
            exchange_payment_id=key,
            part=part,
            amount=share,
            payment_amount=payment.amount,
            currency=payment.currency,
            paid_at=at,
        )
        for part, ((group, _), share) in enumerate(zip(holders, shares, strict=True))
    ]
    try:
        with transaction.atomic():
            FundingPayment.objects.bulk_create(rows)
    except IntegrityError:  # another run recorded this payment in the meantime
        return set()
    return {row.group_id for row in rows}


def _holders(candidates: list[PositionGroup], fills: dict, at: datetime) -> list[tuple[PositionGroup, Decimal]]:
    """The candidates that held something at ``at`` (fills noticed up to it), with what each held."""
    held = [(group, held_at(group.side, _fills_of(group, fills), at)) for group in candidates]
    return [(group, quantity) for group, quantity in held if quantity > 0]


def _fills_of(group: PositionGroup, cache: dict) -> list[FillEvent]:
    if group.pk not in cache:
        cache[group.pk] = group_fills(group)
    return cache[group.pk]
