from celery import shared_task

from exchanges.paper.services import paper_feed_tick


@shared_task(ignore_result=True)
def paper_feed_tick_task() -> None:
    """Beat: move paper prices (synthetic walk, live tickers) and match resting paper orders."""
    paper_feed_tick()
