"""Paper perpetuals' funding: every 8 h (00:00, 08:00, 16:00 UTC), settled lazily.

The model, kept simple and stated:

- Rate: ``PaperMarket.funding_rate`` when the operator set one for the market, else
  ``settings.PAPER_FUNDING_RATE`` (default 0.0001 = 0.01 % per instant).
- Payment at one instant = the position's notional (contracts × contract size × the paper price) × rate,
  rounded to the money fields' last place; when the rate is positive longs pay it and shorts receive it
  (negative rate: the other way round). A ``PaperFunding`` row records it (signed: negative = paid) and it
  moves the USDT balance: received into free; paid from free, then, if free is short, from the position's
  margin (never more than both: what could not be paid is recorded as not paid).
- Lazy: nothing runs on a timer (an idle engine does and logs nothing). A position keeps
  ``funding_settled_at``; every instant after it and up to now is charged once, when the account is read
  (balance, positions, funding history), when a price of the symbol moves (before liquidation is checked)
  and before a fill changes the position (so each instant is charged on the size held then). The price is
  the paper price at settlement (a fill's own price when a fill settles it), not a recorded one.
- Idempotent: the instants are charged under the position's row lock and the mark moves in the same
  transaction; a unique row per (account, symbol, position side, instant) backs it.
- A position opened after an instant does not pay it; one closed before an instant does not pay it.
"""

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from exchanges.models import ExchangeAccount, PaperBalance, PaperFunding, PaperMarket, PaperPosition
from exchanges.paper.balances import STARTING_ASSET, locked_balance
from exchanges.paper.selectors import account_quotes

FUNDING_INTERVAL = timedelta(hours=8)
UNIT = Decimal("1e-12")


def _day(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def last_instant(now: datetime) -> datetime:
    """The latest funding instant at or before ``now``."""
    day = _day(now)
    return day + FUNDING_INTERVAL * ((now - day) // FUNDING_INTERVAL)


def funding_instants(after: datetime, until: datetime) -> list[datetime]:
    """The funding instants strictly after ``after`` and at or before ``until``, oldest first."""
    instants = []
    instant = last_instant(after) + FUNDING_INTERVAL
    while instant <= until:
        instants.append(instant)
        instant += FUNDING_INTERVAL
    return instants


def rate_of(market: PaperMarket) -> Decimal:
    if market.funding_rate is not None:
        return market.funding_rate
    return Decimal(str(settings.PAPER_FUNDING_RATE))


def payment(*, side: str, contracts: Decimal, contract_size: Decimal, price: Decimal, rate: Decimal) -> Decimal:
    """The signed amount one instant moves for a position (negative = the trader pays)."""
    amount = contracts * contract_size * price * rate
    return (-amount if side == "long" else amount).quantize(UNIT, rounding=ROUND_HALF_EVEN)


def position_settle(position: PaperPosition, *, market: PaperMarket, price: Decimal, now: datetime) -> int:
    """Charge a locked position every funding instant it missed up to ``now`` at ``price``; move the USDT
    balance (and the position's margin when free cannot pay) and save the position. Returns the rows made."""
    instants = funding_instants(position.funding_settled_at, now)
    if not instants:
        return 0
    rate = rate_of(market)
    balance = locked_balance(position.account, STARTING_ASSET)
    free, free_delta, used_delta, made = balance.free, Decimal(0), Decimal(0), 0
    for instant in instants:
        amount = payment(
            side=position.side,
            contracts=position.contracts,
            contract_size=market.contract_size,
            price=price,
            rate=rate,
        )
        from_free = from_margin = Decimal(0)
        if amount < 0:
            from_free = min(-amount, free)
            from_margin = min(-amount - from_free, position.margin)
            amount = -(from_free + from_margin)
        try:
            with transaction.atomic():
                PaperFunding.objects.create(
                    account=position.account,
                    symbol=position.symbol,
                    position_side=position.position_side,
                    side=position.side,
                    funding_time=instant,
                    rate=rate,
                    price=price,
                    contracts=position.contracts,
                    amount=amount,
                    currency=market.settle or STARTING_ASSET,
                )
        except IntegrityError:
            continue  # settled already (a position row replaced at the same instant): once only
        made += 1
        if amount >= 0:
            free += amount
            free_delta += amount
        else:
            free -= from_free
            free_delta -= from_free
            used_delta -= from_margin
            position.margin -= from_margin
    position.funding_settled_at = instants[-1]
    position.save(update_fields=["funding_settled_at", "margin", "updated_at"])
    if free_delta or used_delta:
        PaperBalance.objects.filter(pk=balance.pk).update(free=F("free") + free_delta, used=F("used") + used_delta)
    return made


def funding_settle(account: ExchangeAccount, *, symbols: list[str] | None = None, now: datetime | None = None) -> int:
    """Settle every funding instant ``account``'s positions missed up to ``now`` (one query when none did),
    each position in its own short transaction. A position whose market has no price yet waits."""
    now = now or timezone.now()
    due = PaperPosition.objects.filter(account=account, funding_settled_at__lt=last_instant(now))
    if symbols is not None:
        due = due.filter(symbol__in=symbols)
    rows = list(due.values_list("pk", "symbol"))
    if not rows:
        return 0
    names = sorted({symbol for _, symbol in rows})
    quotes = account_quotes(account, names)
    markets = {row.symbol: row for row in PaperMarket.objects.filter(exchange_id=account.exchange_id, symbol__in=names)}
    made = 0
    for pk, symbol in rows:
        quote, market = quotes.get(symbol), markets.get(symbol)
        if quote is None or market is None:
            continue
        with transaction.atomic():
            position = PaperPosition.objects.select_for_update().select_related("account").filter(pk=pk).first()
            if position is not None:
                made += position_settle(position, market=market, price=quote.price, now=now)
    return made
