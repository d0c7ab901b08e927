"""The shared request budget: one token bucket and one Retry-After block per exchange account in Redis.

Two ``RedisRateBudget`` objects on the same key stand for two worker processes. Sleeping is
recorded instead of slept, so a test sees exactly how long each request would have waited.
"""

import time
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import redis
from django.conf import settings

from exchanges.connector import RateLimited, RetryableError
from exchanges.rate_budget import LocalRateBudget, RedisRateBudget, rate_budget_for, retry_after_seconds

needs_redis = pytest.mark.skipif(not settings.REDIS_URL, reason="the shared budget needs REDIS_URL (make test sets it)")


class Sleeps(list):
    """Stands in for time.sleep: records each wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url(settings.REDIS_URL)
    yield client
    client.close()


@pytest.fixture
def account_key():
    return f"test-{uuid.uuid4().hex[:12]}"


def worker(redis_client, account_key, *, per_second=10.0, max_wait=5.0, exchange_id="binance"):
    """A budget as one worker process would hold it, with its sleeps recorded."""
    sleeps = Sleeps()
    budget = RedisRateBudget(
        redis_client,
        exchange_id=exchange_id,
        account_key=account_key,
        per_second=per_second,
        max_wait=max_wait,
        sleep=sleeps,
    )
    return budget, sleeps


@needs_redis
def test_workers_of_one_account_share_the_bucket(redis_client, account_key):
    first, first_sleeps = worker(redis_client, account_key)
    second, second_sleeps = worker(redis_client, account_key)

    for _ in range(5):
        first.acquire()
        second.acquire()  # together they spend the one-second burst of 10
    assert first_sleeps == [] and second_sleeps == []

    second.acquire()  # the 11th request waits for one token at 10 per second
    assert len(second_sleeps) == 1 and 0.05 <= second_sleeps[0] <= 0.1
    first.acquire(cost=2)  # and the next one queues behind it
    assert 0.2 <= first_sleeps[0] <= 0.3


@needs_redis
def test_accounts_have_separate_budgets(redis_client, account_key):
    spent, _ = worker(redis_client, account_key)
    for _ in range(10):
        spent.acquire()

    untouched, sleeps = worker(redis_client, account_key + "-other")
    untouched.acquire()
    assert sleeps == []


@needs_redis
def test_a_wait_beyond_the_bound_is_refused_without_spending(redis_client, account_key):
    budget, sleeps = worker(redis_client, account_key, per_second=10, max_wait=0.5)
    budget.acquire(cost=10)

    with pytest.raises(RateLimited) as raised:
        budget.acquire(cost=8)  # 0.8 s away
    assert 0.7 <= raised.value.retry_after <= 0.8

    budget.acquire(cost=1)  # the refused request reserved nothing: this one waits only ~0.1 s
    assert len(sleeps) == 1 and sleeps[0] <= 0.1


@needs_redis
def test_retry_after_pauses_every_worker_of_the_account(redis_client, account_key):
    got_429, _ = worker(redis_client, account_key, max_wait=5)
    other, other_sleeps = worker(redis_client, account_key, max_wait=5)

    got_429.block(30)
    with pytest.raises(RateLimited) as raised:
        other.acquire()
    assert 29 < raised.value.retry_after <= 30
    assert other_sleeps == []

    got_429.block(1)  # a shorter answer later never shortens the pause
    with pytest.raises(RateLimited):
        other.acquire()


@needs_redis
def test_a_short_block_is_waited_out(redis_client, account_key):
    got_429, _ = worker(redis_client, account_key)
    other, other_sleeps = worker(redis_client, account_key)
    got_429.block(0.2)

    other._sleep = lambda seconds: (other_sleeps.append(seconds), time.sleep(seconds))  # really wait it out
    other.acquire()

    assert 0.1 < other_sleeps[0] <= 0.2


def test_redis_down_is_retryable_not_a_free_pass(account_key):
    unreachable = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    budget = RedisRateBudget(unreachable, exchange_id="binance", account_key=account_key, per_second=10)

    with pytest.raises(RetryableError, match="Redis"):
        budget.acquire()


def test_without_redis_the_budget_is_per_process(settings, account_key):
    settings.REDIS_URL = ""
    budget = rate_budget_for("binance", account_key, per_second=20)
    same_account = rate_budget_for("binance", account_key, per_second=20)

    assert isinstance(budget, LocalRateBudget) and budget is same_account
    budget.acquire()
    budget.block(60)
    with pytest.raises(RateLimited) as raised:
        same_account.acquire()
    assert 59 < raised.value.retry_after <= 60


@needs_redis
def test_budget_rate_comes_from_ccxt_unless_configured(settings, account_key):
    assert rate_budget_for("binance", account_key, per_second=20).per_second == 20
    settings.EXCHANGE_RATE_BUDGET_PER_SECOND = 5
    settings.EXCHANGE_RATE_BUDGET_MAX_WAIT_SECONDS = 2
    configured = rate_budget_for("binance", account_key, per_second=20)
    assert (configured.per_second, configured.capacity, configured.max_wait) == (5, 5, 2)


def test_retry_after_header_forms():
    in_90_seconds = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)

    assert retry_after_seconds({"Retry-After": "7"}) == 7
    assert retry_after_seconds({"retry-after": "2.5"}) == 2.5
    assert 88 <= retry_after_seconds({"Retry-After": in_90_seconds}) <= 90
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    assert retry_after_seconds({}) is None
    assert retry_after_seconds(None) is None
