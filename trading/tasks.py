"""Celery tasks of the trading app: thin wrappers that load ids and call one service."""

import logging
import math

from celery import shared_task
from celery.signals import worker_ready

from trading.hooks import fills_synced
from trading.services.heartbeat import heartbeat_record

logger = logging.getLogger(__name__)


def exchange_backoff(exc: Exception, retries: int) -> float:
    """1, 2, 4 s, or longer when the exchange said how long to wait (HTTP 429/418 Retry-After):
    retrying inside a ban only meets the ban again (and Binance lengthens a ban that is ignored)."""
    from trading.services.orders import MAX_RETRY_AFTER_SECONDS

    retry_after = getattr(exc, "retry_after", None) or 0
    return max(2**retries, min(math.ceil(retry_after), MAX_RETRY_AFTER_SECONDS))


@shared_task(ignore_result=True)
def heartbeat_task() -> None:
    """Run by beat; proves beat schedules and a worker executes (shown on /healthz)."""
    heartbeat_record(names=("beat", "worker"))


@shared_task(ignore_result=True)
def route_signal_task(signal_id: str) -> None:
    """Route one stored signal: open, pyramid, queue, exit, reduce or reverse. Safe to run twice."""
    from trading.services.routing import signal_route

    signal_route(signal_id=signal_id)


@shared_task(bind=True, ignore_result=True, max_retries=3)
def submit_pyramid_task(self, pyramid_id: str) -> None:
    """Place a pyramid's grid. Retryable exchange errors back off 1 s, 2 s, 4 s (or the exchange's
    Retry-After), then fail the orders."""
    from exchanges.connector import RetryableError
    from trading.services.positions import pyramid_submit

    try:
        pyramid_submit(pyramid_id=pyramid_id, final_attempt=self.request.retries >= self.max_retries)
    except RetryableError as exc:
        raise self.retry(exc=exc, countdown=exchange_backoff(exc, self.request.retries)) from exc


@shared_task(bind=True, ignore_result=True, max_retries=3)
def place_order_task(self, order_id: str) -> None:
    """Send one order left ``pending`` by a dead worker (a take-profit); same backoff as a grid."""
    from exchanges.connector import RetryableError
    from exchanges.services.accounts import connector_for_account
    from trading.models import Order
    from trading.services.orders import PlacementFailed, order_place

    order = Order.objects.select_related("group__exchange_account").get(pk=order_id)
    try:
        order_place(
            order,
            connector_for_account(order.group.exchange_account),
            final_attempt=self.request.retries >= self.max_retries,
        )
    except RetryableError as exc:
        raise self.retry(exc=exc, countdown=exchange_backoff(exc, self.request.retries)) from exc
    except PlacementFailed as exc:
        logger.warning("order %s refused: %s", order.client_order_id, exc)


@shared_task(bind=True, ignore_result=True, max_retries=3)
def close_position_task(
    self,
    group_id: str,
    reason: str,
    quantity: str | None = None,
    then_submit: list | None = None,
    request_key: str | None = None,
) -> None:
    """Close (``quantity`` None) or reduce a group through the one close path; then place any grids
    waiting on it (reverse). A reduce sells once per ``request_key``, however often this runs."""
    from decimal import Decimal

    from exchanges.connector import RetryableError
    from trading.services.closing import position_close
    from trading.services.lifecycle import position_reduce

    final_attempt = self.request.retries >= self.max_retries
    try:
        if quantity:
            position_reduce(
                group_id=group_id,
                reason=reason,
                quantity=Decimal(quantity),
                request_key=request_key,
                final_attempt=final_attempt,
            )
        else:
            position_close(group_id=group_id, reason=reason, final_attempt=final_attempt)
    except RetryableError as exc:
        raise self.retry(exc=exc, countdown=exchange_backoff(exc, self.request.retries)) from exc
    for pyramid_id in then_submit or []:
        submit_pyramid_task.delay(pyramid_id)


@shared_task(ignore_result=True)
def promote_queue_task(user_id: str | None = None) -> None:
    """Beat (and after every close): promote waiting entries of one user, or of everyone queued."""
    from trading.models import QueuedSignal, User
    from trading.services.promotion import queue_promote_ready

    users = (
        User.objects.filter(pk=user_id)
        if user_id
        else User.objects.filter(queued_signals__status=QueuedSignal.Status.QUEUED).distinct()
    )
    for user in users:
        queue_promote_ready(user=user)


@shared_task(ignore_result=True)
def expire_queue_task() -> None:
    """Beat: queued entries past queue_ttl_minutes end as expired."""
    from trading.services.queue import queue_expire

    queue_expire()


@shared_task(ignore_result=True)
def signal_sweep_task() -> None:
    """Run by beat: re-send stored signals whose routing task never ran (broker down, worker killed)."""
    from trading.services.signals import signal_sweep

    signal_sweep()


@shared_task(ignore_result=True)
def prune_refused_signals_task() -> None:
    """Beat, hourly: webhook rejections older than REJECTED_SIGNAL_RETENTION_DAYS are deleted."""
    from trading.services.signals import refused_signals_prune

    refused_signals_prune()


@shared_task(ignore_result=True)
def sync_fills_task() -> None:
    """Beat: one sync task per (exchange account, symbol) with live orders, one price task per account, and one
    positions task per swap account."""
    from trading.models import PositionGroup
    from trading.selectors import symbols_to_sync
    from trading.states import GROUP_ACTIVE_STATUSES

    accounts = set()
    for account_id, symbol in symbols_to_sync():
        sync_symbol_task.delay(account_id, symbol)
        accounts.add(account_id)
    accounts |= set(
        PositionGroup.objects.filter(status__in=[s.value for s in GROUP_ACTIVE_STATUSES])
        .order_by()
        .values_list("exchange_account_id", flat=True)
        .distinct()
    )
    for account_id in accounts:
        sync_prices_task.delay(account_id)
    for account_id in _swap_accounts(accounts):
        sync_positions_task.delay(account_id)


def _swap_accounts(account_ids) -> list[int]:
    from exchanges.models import ExchangeAccount

    return list(
        ExchangeAccount.objects.filter(pk__in=account_ids, market_type=ExchangeAccount.MarketType.SWAP)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


@shared_task(ignore_result=True, expires=30)
def sync_symbol_task(account_id: int, symbol: str) -> None:
    from exchanges.connector import ExchangeError
    from trading.services.sync import symbol_sync

    try:
        changed = symbol_sync(account_id=account_id, symbol=symbol)
    except ExchangeError as exc:  # the next cycle (5 s) asks again
        logger.warning("fill sync of %s on account %s failed: %s", symbol, account_id, exc)
        return
    if changed:
        _fills_synced(account_id)


def _fills_synced(account_id: int) -> None:
    """Tell the layers above that fills changed positions (the risk engine may evaluate: ``risk.receivers``)."""
    from exchanges.models import ExchangeAccount

    user_id = ExchangeAccount.objects.values_list("user_id", flat=True).get(pk=account_id)
    fills_synced.send(sender=ExchangeAccount, account_id=account_id, user_id=user_id)


@shared_task(ignore_result=True, expires=30)
def sync_prices_task(account_id: int) -> None:
    from exchanges.connector import ExchangeError
    from trading.services.sync import prices_sync

    try:
        prices_sync(account_id=account_id)
    except ExchangeError as exc:
        logger.warning("price sync of account %s failed: %s", account_id, exc)


@shared_task(ignore_result=True, expires=30)
def sync_positions_task(account_id: int) -> None:
    """One positions read for a swap account: groups the exchange no longer holds (liquidated, closed by
    hand) are closed (``trading.services.exchange_positions``)."""
    from exchanges.connector import ExchangeError
    from trading.services.exchange_positions import positions_sync

    try:
        closed = positions_sync(account_id=account_id)
    except ExchangeError as exc:  # the next cycle (5 s) reads them again
        logger.warning("positions sync of account %s failed: %s", account_id, exc)
        return
    if closed:
        _fills_synced(account_id)


@shared_task(ignore_result=True)
def sync_funding_task() -> None:
    """Beat: one funding task per (swap account, symbol) with a live or recently closed group."""
    from trading.services.funding import funding_targets

    for account_id, symbol in funding_targets():
        sync_funding_symbol_task.delay(account_id, symbol)


@shared_task(ignore_result=True, expires=600)
def sync_funding_symbol_task(account_id: int, symbol: str) -> None:
    from exchanges.connector import ExchangeError
    from trading.services.funding import funding_sync

    try:
        funding_sync(account_id=account_id, symbol=symbol)
    except (
        ExchangeError,
        NotImplementedError,
    ) as exc:  # not supported, refused or unreachable: the next run asks again
        logger.warning("funding of %s on account %s not fetched: %s", symbol, account_id, exc)


@shared_task(ignore_result=True)
def resend_stalled_work_task() -> None:
    """Beat: grids never placed, take-profits never sent and closes never finished are enqueued again
    (idempotent work)."""
    from trading.services.recovery import stalled_take_profits_resend, stalled_work_resend

    stalled_work_resend()
    stalled_take_profits_resend()


@shared_task(ignore_result=True)
def reconcile_task() -> None:
    """On worker start and on a schedule: exchange open orders with our prefix versus the database."""
    from trading.services.reconcile import reconcile_all

    reconcile_all()


@worker_ready.connect
def reconcile_when_a_worker_starts(sender=None, **kwargs) -> None:
    # A worker that died may have left an order on the exchange that the database never recorded.
    try:
        reconcile_task.delay()
    except Exception:
        logger.exception("could not enqueue reconciliation at worker start")
