"""The books audited against the paper exchange's own records, through the ORM (the stack tests and the soak).

- ``balance_problems``: each account's paper balances are exactly what the fills the database recorded
  add up to, fees included; nothing is still reserved; what is left of a base asset is dust under one
  lot per group.
- ``sell_budget_problems``: no position sold more than it bought net of base-asset fees (on the
  exchange's books), none carries an over-sell anomaly, every one ended closed (or failed).
"""

from collections import Counter, defaultdict
from decimal import Decimal

from exchanges.models import ExchangeAccount, PaperBalance, PaperOrder
from trading.models import Order, PositionGroup

QUOTE = "USDT"


def expected_balances(account: ExchangeAccount) -> dict[str, Decimal]:
    """What the account holds if the database knows every fill the exchange made, exactly once."""
    expected: dict[str, Decimal] = defaultdict(Decimal)
    expected[QUOTE] = account.starting_balance
    orders = Order.objects.filter(group__exchange_account=account, filled_quantity__gt=0)
    for symbol, side, filled, average, fee, fee_currency in orders.values_list(
        "symbol", "side", "filled_quantity", "avg_fill_price", "fee", "fee_currency"
    ):
        base = symbol.split("/")[0]
        sign = 1 if side == "buy" else -1
        expected[base] += sign * filled
        expected[QUOTE] -= sign * filled * average
        expected[fee_currency or QUOTE] -= fee
    return expected


def balance_problems(accounts, *, step: Decimal) -> list[str]:
    found = []
    for account in accounts:
        held = {row.asset: row for row in PaperBalance.objects.filter(account=account)}
        expected = expected_balances(account)
        groups_per_base = Counter(
            symbol.split("/")[0]
            for symbol in PositionGroup.objects.filter(exchange_account=account).values_list("symbol", flat=True)
        )
        for asset in set(held) | set(expected):
            row = held.get(asset)
            total = (row.free + row.used) if row else Decimal(0)
            if row and row.used:
                found.append(f"{account.user.username} {asset}: {row.used} still reserved with nothing open")
            # Cost is rounded to the money precision per fill: a few units of the last place.
            tolerance = Decimal("0.0001") if asset == QUOTE else Decimal("0.000000001")
            if abs(total - expected[asset]) > tolerance:
                found.append(
                    f"{account.user.username} {asset}: exchange holds {total}, the recorded fills add up "
                    f"to {expected[asset]}"
                )
            if asset != QUOTE and not (0 <= total < step * max(groups_per_base[asset], 1)):
                found.append(
                    f"{account.user.username} {asset}: {total} left after every group closed "
                    f"(more than fee dust below one lot per group)"
                )
    return found


def sell_budget_problems() -> list[str]:
    found = []
    for group in PositionGroup.objects.select_related("exchange_account"):
        ids = list(group.orders.values_list("client_order_id", flat=True))
        orders = PaperOrder.objects.filter(account=group.exchange_account, client_order_id__in=ids)
        base = group.symbol.split("/")[0]
        bought = sum(
            (o.filled - (o.fee if o.fee_currency == base else 0) for o in orders if o.side == "buy"), Decimal(0)
        )
        sold = sum((o.filled for o in orders if o.side == "sell"), Decimal(0))
        if sold > bought:
            found.append(f"{group.pk} {group.symbol}: sold {sold} for {bought} bought")
        if group.oversold_quantity:
            found.append(f"{group.pk} {group.symbol}: over-sell anomaly {group.oversold_quantity}")
        if group.status not in ("closed", "failed"):
            found.append(f"{group.pk} {group.symbol}: still {group.status} after every exit")
    return found
