"""The paper account's balance rows, locked one at a time (after any paper order and position rows)."""

from decimal import Decimal

from django.db import IntegrityError, transaction

from exchanges.models import ExchangeAccount, PaperBalance

# The quote asset a paper account's starting balance is paid in (and the settle asset of its swaps).
STARTING_ASSET = "USDT"


def locked_balance(account: ExchangeAccount, asset: str) -> PaperBalance:
    """The account's balance row for ``asset``, locked; created (with the starting balance) on first use."""
    try:
        return PaperBalance.objects.select_for_update().get(account=account, asset=asset)
    except PaperBalance.DoesNotExist:
        pass
    starting = account.starting_balance if asset == STARTING_ASSET else Decimal(0)
    try:
        with transaction.atomic():
            PaperBalance.objects.create(account=account, asset=asset, free=starting)
    except IntegrityError:
        pass  # created concurrently
    return PaperBalance.objects.select_for_update().get(account=account, asset=asset)
