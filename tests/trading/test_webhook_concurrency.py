"""Copies of one alert arriving at the same moment act once (real threads, real PostgreSQL commits).

TradingView resends an alert it thinks was lost; a proxy may retry too. The copies can land in the
same millisecond, so the dedupe is the unique constraint (user, body hash), not a read-then-write.
"""

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.alert_bodies import sent_alert
from tests.factories import UserFactory
from tests.trading.test_webhook import routing_messages, url
from trading.models import Signal

pytestmark = pytest.mark.django_db(transaction=True)

COPIES = 10


def post_at_once(address: str, bodies: list[str]) -> list[requests.Response]:
    """POST every body from its own thread, all released together by a barrier."""
    barrier = threading.Barrier(len(bodies))

    def send(body: str) -> requests.Response:
        with requests.Session() as session:
            barrier.wait()
            return session.post(address, data=body, headers={"Content-Type": "text/plain"}, timeout=30)

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(send, bodies))


@pytest.mark.parametrize("round_", range(3))
def test_ten_concurrent_copies_store_one_signal_and_enqueue_one_routing(live_server, round_):
    user = UserFactory()
    body = json.dumps(sent_alert(user))

    responses = post_at_once(live_server.url + url(user.id), [body] * COPIES)

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * (COPIES - 1) + [202]
    signal = Signal.objects.get()
    assert {response.json()["signal_id"] for response in responses} == {str(signal.id)}
    assert [r.json()["status"] for r in responses].count("duplicate") == COPIES - 1
    assert signal.status == Signal.Status.RECEIVED
    assert routing_messages(signal.id) == 1


def test_concurrent_distinct_alerts_are_all_accepted(live_server):
    user = UserFactory()
    bodies = [json.dumps(sent_alert(user)) for _ in range(COPIES)]  # each has its own trade id

    responses = post_at_once(live_server.url + url(user.id), bodies)

    assert [response.status_code for response in responses] == [202] * COPIES
    assert Signal.objects.filter(user=user, status=Signal.Status.RECEIVED).count() == COPIES
    for signal in Signal.objects.all():
        assert routing_messages(signal.id) == 1
