from celery import shared_task

from exchanges.paper.services import paper_feed_tick


@shared_task(ignore_result=True)
def paper_feed_tick_task() -> None:
    """Beat: move paper prices (synthetic walk, live tickers) and match resting paper orders."""
    paper_feed_tick()


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
