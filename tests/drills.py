"""Paper fault drills and answer dialects set as an operator does: ``manage.py paper fault|dialect``."""

from io import StringIO

from django.core.management import call_command
from django.utils import timezone

from exchanges.paper.connector import PaperConnector
from trading.models import Order


def arm_faults(account, **faults) -> None:
    """Arm each ``fault=count`` (a share 0 to 1 for ``lose_answer_rate``) on a paper account."""
    for fault, count in faults.items():
        call_command("paper", "fault", str(account.pk), fault, str(count), stdout=StringIO())


def set_dialect(account, dialect: str) -> None:
    call_command("paper", "dialect", str(account.pk), dialect, stdout=StringIO())


def placed_but_not_recorded(account, leg: Order) -> None:
    """The worker claimed ``leg`` and the exchange accepted it, then the worker died before recording it."""
    Order.objects.filter(pk=leg.pk).update(submitted_at=timezone.now())
    PaperConnector(account).create_order(
        symbol="BTC/USDT",
        side="buy",
        type="limit",
        amount=leg.quantity,
        price=leg.price,
        client_order_id=leg.client_order_id,
    )
