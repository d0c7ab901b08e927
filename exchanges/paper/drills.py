"""Fault drills and answer dialects of the paper exchange: an operator's settings, never a trader's.

A fault (``ExchangeAccount.paper_faults``, the kinds are described in ``exchanges.paper.connector``)
can SIGKILL the Celery worker that places an order, and every trader shares those workers. So faults
are armed only by ``python manage.py paper fault`` and only where ``PAPER_FAULTS_ALLOWED`` is on (by
default when ``DJANGO_ENV`` is development or test); where it is off, the paper connector also ignores
whatever a row still holds (``armed_faults``), so a drill left armed, or a row written by other means,
does nothing in production. Neither the API, the dashboard nor admin writes them.

An answer dialect (``ExchangeAccount.paper_dialect``) only changes the shapes one account's own
answers take, so ``python manage.py paper dialect`` is allowed everywhere, but it is still the
operator's: a trader has no reason to make their own books harder to keep.
"""

import logging

from django.conf import settings
from django.db import transaction

from exchanges.models import ExchangeAccount

logger = logging.getLogger(__name__)

# Faults counted per occurrence: each one armed is used up by the next call it applies to.
COUNTED_FAULTS = (
    "unavailable",
    "rate_limited",
    "lose_answer_after_accept",
    "kill_worker_before_accept",
    "kill_worker_after_accept",
    "order_not_found",
)
# The share of accepted orders whose answer is lost (a rate from 0 to 1, drawn per order, never used up).
LOSE_ANSWER_RATE = "lose_answer_rate"
# Where the ``rate_limited`` fault keeps the end of its ban (epoch seconds) in ``paper_faults``.
RATE_LIMITED_UNTIL = "rate_limited_until"
DIALECTS = ("plain", "binance", "bybit")


class DrillRefused(Exception):
    """An operator's drill request that cannot be done as asked; the message says what to do instead."""


def faults_allowed() -> bool:
    return bool(settings.PAPER_FAULTS_ALLOWED)


def armed_faults(account: ExchangeAccount) -> dict:
    """The faults the paper connector acts on: the account's, or none where drills are not allowed."""
    return (account.paper_faults or {}) if faults_allowed() else {}


def _locked_paper_account(account_id: int) -> ExchangeAccount:
    """The paper account ``account_id``, locked. Call inside a transaction."""
    account = ExchangeAccount.objects.select_for_update().select_related("user").filter(pk=account_id).first()
    if account is None:
        raise DrillRefused(f"There is no exchange account {account_id}.")
    if account.mode != ExchangeAccount.Mode.PAPER:
        raise DrillRefused(
            f"Account {account_id} ({account}) trades {account.mode}: drills and dialects are for paper accounts only."
        )
    return account


def _fault_value(fault: str, count: str) -> int | float:
    if fault == LOSE_ANSWER_RATE:
        try:
            rate = float(count)
        except ValueError:
            rate = -1.0
        if not 0 <= rate <= 1:
            raise DrillRefused(f"{LOSE_ANSWER_RATE} is a share of orders from 0 to 1 (0.05 = 5 %), not {count!r}.")
        return rate
    if fault not in COUNTED_FAULTS:
        raise DrillRefused(
            f"Unknown paper fault {fault!r}: use one of {', '.join(COUNTED_FAULTS)}, or {LOSE_ANSWER_RATE}."
        )
    if not count.isdigit():
        raise DrillRefused(f"The count of {fault} is a whole number of occurrences (0 disarms it), not {count!r}.")
    return int(count)


def paper_fault_arm(*, account_id: int, fault: str, count: str) -> ExchangeAccount:
    """Arm ``count`` occurrences of ``fault`` (a rate for ``lose_answer_rate``) on a paper account."""
    if not faults_allowed():
        raise DrillRefused(
            f"Paper fault drills are off here (DJANGO_ENV={settings.DJANGO_ENV}): a fault can kill the Celery "
            f"workers every trader shares. Set PAPER_FAULTS_ALLOWED=true only on a host kept for drills."
        )
    value = _fault_value(fault, count)
    with transaction.atomic():
        account = _locked_paper_account(account_id)
        account.paper_faults = {**(account.paper_faults or {}), fault: value}
        account.save(update_fields=["paper_faults"])
    logger.warning("paper fault armed on account %s (%s of %s): %s=%s", account.pk, account, account.user, fault, value)
    return account


def paper_faults_clear(*, account_id: int) -> ExchangeAccount:
    """Disarm every fault of a paper account (allowed everywhere: clearing can only make it safer)."""
    with transaction.atomic():
        account = _locked_paper_account(account_id)
        account.paper_faults = {}
        account.save(update_fields=["paper_faults"])
    logger.warning("paper faults cleared on account %s (%s of %s)", account.pk, account, account.user)
    return account


def paper_dialect_set(*, account_id: int, dialect: str) -> ExchangeAccount:
    if dialect not in DIALECTS:
        raise DrillRefused(f"Unknown paper dialect {dialect!r}: use one of {', '.join(DIALECTS)}.")
    with transaction.atomic():
        account = _locked_paper_account(account_id)
        account.paper_dialect = dialect
        account.save(update_fields=["paper_dialect"])
    logger.info("paper dialect of account %s (%s of %s) set to %s", account.pk, account, account.user, dialect)
    return account
