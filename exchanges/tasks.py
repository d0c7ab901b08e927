import logging

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings

from exchanges.paper.services import paper_feed_tick
from exchanges.services.candles import CANDLES_REFRESH_SECONDS, candles_refresh

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def paper_feed_tick_task() -> None:
    """Beat: move paper prices (synthetic walk, live tickers) and match resting paper orders."""
    paper_feed_tick()


# A refresh that waited longer than a refresh period is stale before it starts: the chart's next poll
# has asked for a newer one. Failures are not retried here; that poll is the retry.
@shared_task(ignore_result=True, expires=CANDLES_REFRESH_SECONDS)
def candles_refresh_task(
    account_id: int, symbol: str, interval_minutes: int, start: int, end: int, closed: bool
) -> None:
    """A position chart's candles from the exchange into the cache (``exchanges.services.candles``)."""
    candles_refresh(
        account_id=account_id, symbol=symbol, interval_minutes=interval_minutes, start=start, end=end, closed=closed
    )


@shared_task(ignore_result=True)
def balance_refresh_task(account_id: int) -> None:
    """Read one account's balance and store it with its USD equity (an exchange error is stored too)."""
    from exchanges.models import ExchangeAccount
    from exchanges.services.balances import account_balance_refresh

    account = ExchangeAccount.objects.filter(pk=account_id, is_enabled=True).first()
    if account is not None:  # deleted or disabled since it was sent: nothing to read
        account_balance_refresh(account=account)


@shared_task(ignore_result=True)
def balances_refresh_task() -> None:
    """Beat: send one balance refresh per enabled exchange account."""
    from exchanges.services.balances import balances_refresh_due

    balances_refresh_due()


@shared_task(ignore_result=True)
def position_modes_refresh_task() -> None:
    """Beat (daily): re-read every enabled swap account's position mode (one_way | hedge)."""
    from exchanges.services.derivatives import position_modes_refresh

    position_modes_refresh()


@worker_ready.connect
def refresh_balances_when_a_worker_starts(sender=None, **kwargs) -> None:
    # The overview has figures to show within seconds of `make run`, not only after the first beat interval.
    if not settings.BALANCE_REFRESH_SECONDS:
        return
    try:
        balances_refresh_task.delay()
    except Exception:
        logger.exception("could not enqueue the balance refresh at worker start")
