"""Paper fault drills and answer dialects set as an operator does: ``manage.py paper fault|dialect``."""

from io import StringIO

from django.core.management import call_command


def arm_faults(account, **faults) -> None:
    """Arm each ``fault=count`` (a share 0 to 1 for ``lose_answer_rate``) on a paper account."""
    for fault, count in faults.items():
        call_command("paper", "fault", str(account.pk), fault, str(count), stdout=StringIO())


def set_dialect(account, dialect: str) -> None:
    call_command("paper", "dialect", str(account.pk), dialect, stdout=StringIO())
