"""Schemathesis drives every operation of the OpenAPI schema with generated requests: none may answer 5xx.

It loads ``/api/schema/`` from the WSGI application in this process and calls it as a trader with a
token and something of everything: an open position with its orders, a queued entry, signals, DCA
configurations, a paper exchange account, a risk action. Half the generated ids are replaced by the
ids of those records, so the operations on one record run on a real one as well as on unknown ids.

Each operation gets ``MAX_EXAMPLES`` requests, valid ones and ones that break the schema (wrong
types, missing fields, malformed ids), with a fixed seed so a run is repeatable; bounded for two
shared cores. Any 5xx it finds gets a regression test of its own (test_server_errors.py).
"""

import os

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from jobs.models import Job
from trading.models import DCAConfiguration, JournalEntry, QueuedSignal, RiskConfig

# Generated requests per operation, valid and invalid mixed: 20 × 46 operations is ~900 requests,
# about 30 s on 2 shared cores. API_FUZZ_EXAMPLES=200 makes a deeper run with a fresh seed each time.
MAX_EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "20"))
DEEP_RUN = "API_FUZZ_EXAMPLES" in os.environ


@pytest.fixture
def records(route, trader, eager_celery) -> dict:
    """The trader's records, made by routing real alerts on the paper exchange (and a background job)."""
    RiskConfig.objects.filter(user=trader).update(max_open_positions_global=1)
    opened = route(symbol="BTCUSDT")
    waiting = route(symbol="ETHUSDT")
    assert (opened.status, waiting.status) == ("opened", "queued")
    group = opened.position_group
    return {
        "positions": group.pk,
        "risk": group.pk,
        "orders": group.orders.order_by("pk").first().pk,
        "signals": opened.pk,
        "queue": QueuedSignal.objects.get(signal=waiting).pk,
        "dca-configs": DCAConfiguration.objects.filter(user=trader).order_by("pk").first().pk,
        "exchange-accounts": trader.exchange_accounts.get().pk,
        "risk/actions": JournalEntry.objects.create(user=trader, kind="manual_block", group=group).pk,
        "jobs": Job.objects.create(user=trader, kind="exchange_sync", title="a sync").pk,
    }


def real_id(path: str, records: dict):
    """The id of the trader's record for an operation's path, e.g. /api/v1/risk/actions/{id}/."""
    parts = path.removeprefix("/api/v1/").split("/")
    return records.get("/".join(parts[:2]), records.get(parts[0]))


@pytest.fixture
def api_schema(records, trader, throttle_rates, loopback_only, settings):
    from config.celery import app
    from config.wsgi import application

    app.conf.task_always_eager = False  # requests enqueue as in production (after a commit that never comes here)
    throttle_rates(user=None, anon=None, **{"auth-token": None})  # hundreds of requests a minute
    settings.TELEGRAM_API_BASE = "http://127.0.0.1:9"  # a set bot token is tried against nothing
    # Requests run inside the test's transaction: Django must not close the connection around each
    # (its test client disconnects the same handlers).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        schema = schemathesis.openapi.from_wsgi("/api/schema/", application)

        @schema.hook
        def flatmap_path_parameters(context, path_parameters):
            known = real_id(context.operation.path, records)
            if not path_parameters or known is None:
                return st.just(path_parameters)
            real = {name: str(known) for name in path_parameters}
            return st.sampled_from([path_parameters, real])

        yield schema
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def token(trader) -> str:
    return Token.objects.get_or_create(user=trader)[0].key


def test_no_operation_answers_a_server_error(api_schema, token, subtests):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 30

    for operation in operations:
        # Valid requests and requests that break the schema (wrong types, missing fields, bad ids).
        cases = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)
        )

        @hypothesis_settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=not DEEP_RUN,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
        )
        @given(case=cases)
        def no_server_error(case):
            response = case.call(headers={"Authorization": f"Token {token}"})
            case.validate_response(response, checks=[not_a_server_error])

        with subtests.test(operation=operation.label):
            no_server_error()
