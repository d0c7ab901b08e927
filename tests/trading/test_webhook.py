"""The TradingView webhook answers exactly as README "Webhook" says, and stores what a trader needs to see.

Every refused request leaves one rejected Signal (without the secret) and nothing else; an accepted
one is stored, answered 202 and its routing reaches Redis once the row is committed.
"""

import itertools
import json
import logging
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from tests.alert_bodies import sent_alert
from tests.factories import UserFactory
from trading.models import Order, PositionGroup, Pyramid, QueuedSignal, Signal, WebhookRejectionTally
from trading.services.signals import signal_sweep
from trading.webhook.bodies import STORED_REJECTED_BODY_BYTES

pytestmark = pytest.mark.django_db

TRADINGVIEW_IPS = ["52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7"]
# Each test posts from its own address (198.18.0.0/15, the benchmarking range) so the per-IP rate
# limit, counted in the shared Redis, never carries over from one test to the next.
_addresses = (
    f"198.{18 + n // 65000}.{n % 65000 // 250}.{n % 250 + 1}" for n in itertools.count(random.randrange(60000))
)


@pytest.fixture
def ip() -> str:
    return next(_addresses)


@pytest.fixture
def web(ip) -> Client:
    return Client(REMOTE_ADDR=ip)


def url(user_id) -> str:
    return f"/webhooks/{user_id}/tradingview"


def post(web: Client, user_id, body, *, content_type="application/json", **extra):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return web.post(url(user_id), data=data, content_type=content_type, **extra)


def routing_messages(signal_id) -> int:
    """How many route_signal_task messages for ``signal_id`` wait in the Redis broker queue."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    found = 0
    for raw in client.lrange("celery", 0, -1):
        headers = json.loads(raw)["headers"]
        if headers["task"] == "trading.tasks.route_signal_task" and str(signal_id) in headers["argsrepr"]:
            found += 1
    return found


def assert_only_the_rejection(*, http_status: int, user, ip: str) -> Signal:
    """The one record a refused request leaves: a rejected Signal, shown to its user; nothing else."""
    signal = Signal.objects.get()
    assert signal.status == Signal.Status.REJECTED
    assert signal.http_status == http_status
    assert signal.user == user
    assert signal.client_ip == ip
    assert signal.reason
    assert signal.dedupe_key is None
    assert (
        PositionGroup.objects.count(),
        Pyramid.objects.count(),
        Order.objects.count(),
        QueuedSignal.objects.count(),
    ) == (0, 0, 0, 0)
    return signal


def assert_no_secret(signal: Signal, *secrets: str) -> None:
    stored = json.dumps(signal.payload) + signal.reason
    for secret in secrets:
        assert secret not in stored


def wait_for_a_fresh_rate_window(seconds_needed: float = 5) -> None:
    """Rate limits count in fixed minute windows: start a counting test well inside one."""
    left = 60 - time.time() % 60
    if left < seconds_needed:
        time.sleep(left + 0.05)


# --- accepted ----------------------------------------------------------------------------------


def test_a_valid_alert_is_stored_and_answered_202_with_its_id(web, user, ip):
    body = sent_alert(user)

    response = post(web, user.id, body)

    assert response.status_code == 202
    signal = Signal.objects.get()
    assert response.json() == {"status": "accepted", "signal_id": str(signal.id)}
    assert signal.user == user
    assert signal.status == Signal.Status.RECEIVED
    assert signal.http_status == 202
    assert signal.client_ip == ip
    assert (signal.intent, signal.exchange, signal.tv_symbol, signal.timeframe, signal.side) == (
        "signal",
        "binance",
        "BTCUSDT",
        15,
        "long",
    )
    assert signal.entry_price == Decimal("60000.5")
    assert signal.routed_at is None and signal.routing_attempts == 0
    # Stored as received, minus the secret: the router re-parses it.
    expected = dict(body)
    del expected["secret"]
    assert signal.payload == expected
    assert user.webhook_secret not in json.dumps(signal.payload)


def test_the_routing_task_reaches_redis_once_the_signal_is_committed(web, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post(web, user.id, sent_alert(user))
        signal_id = response.json()["signal_id"]
        # Stored and answered, but nothing reaches the broker before the commit.
        assert routing_messages(signal_id) == 0

    for callback in callbacks:  # the commit
        callback()

    assert response.status_code == 202
    assert routing_messages(signal_id) == 1


def test_text_plain_bodies_are_read_as_json(web, user):
    response = post(web, user.id, sent_alert(user), content_type="text/plain; charset=utf-8")

    assert response.status_code == 202
    assert Signal.objects.get().status == Signal.Status.RECEIVED


def test_a_curl_form_post_is_read_as_json_too(web, user):
    """`curl -d '{…}'` without -H sends application/x-www-form-urlencoded; the body is still JSON."""
    response = post(web, user.id, sent_alert(user), content_type="application/x-www-form-urlencoded")

    assert response.status_code == 202


def test_numbers_may_arrive_as_json_numbers(web, user):
    response = post(web, user.id, sent_alert(user, tv={"entry_price": 60000.25, "timeframe": 240, "order_size": 1}))

    assert response.status_code == 202
    signal = Signal.objects.get()
    assert (signal.entry_price, signal.timeframe) == (Decimal("60000.25"), 240)


@pytest.mark.parametrize(
    ("sent", "minutes"), [("1", 1), ("240", 240), ("1D", 1440), ("D", 1440), ("1W", 10080), ("W", 10080), ("1M", 43200)]
)
def test_each_tradingview_interval_is_stored_in_minutes(web, user, sent, minutes):
    response = post(web, user.id, sent_alert(user, tv={"timeframe": sent}))

    assert response.status_code == 202
    assert Signal.objects.get().timeframe == minutes


def test_the_trailing_slash_is_optional(web, user):
    response = web.post(url(user.id) + "/", data=json.dumps(sent_alert(user)), content_type="application/json")

    assert response.status_code == 202


def test_an_exit_is_stored_for_the_side_it_closes(web, user):
    body = sent_alert(
        user,
        tv={"action": "sell", "market_position": "flat", "prev_market_position": "long"},
        execution_intent={"type": "exit", "side": "sell"},
    )

    response = post(web, user.id, body)

    assert response.status_code == 202
    assert (Signal.objects.get().intent, Signal.objects.get().side) == ("exit", "long")


# --- duplicates --------------------------------------------------------------------------------


def test_a_repeated_body_is_answered_duplicate_with_the_first_id_and_acts_once(
    web, user, django_capture_on_commit_callbacks
):
    body = json.dumps(sent_alert(user))
    with django_capture_on_commit_callbacks(execute=True):
        first = post(web, user.id, body)
    with django_capture_on_commit_callbacks(execute=True) as second_commit:
        second = post(web, user.id, body, content_type="text/plain")

    assert first.status_code == 202
    assert second.status_code == 200
    assert second.json() == {"status": "duplicate", "signal_id": first.json()["signal_id"]}
    assert Signal.objects.count() == 1
    assert second_commit == []  # nothing enqueued for the copy
    assert routing_messages(first.json()["signal_id"]) == 1


def _one_body_posted_at(web, user, monkeypatch, *ages: int) -> list:
    """One alert body, posted again at each age (seconds after its timestamp, by the server's clock): the answers."""
    sent_at = timezone.now().replace(microsecond=0)
    body = json.dumps(sent_alert(user, timestamp=sent_at.strftime("%Y-%m-%dT%H:%M:%SZ")))
    answers = []
    for age in ages:
        monkeypatch.setattr(timezone, "now", lambda age=age: sent_at + timedelta(seconds=age))
        answers.append(post(web, user.id, body))
    return answers


def test_a_body_is_acted_on_once_for_as_long_as_it_passes_the_replay_check(web, user, monkeypatch):
    # Windows of 60 s: the copy at 59 s is a duplicate; at 61 s the body no longer passes the replay
    # check, so it is refused as a replay, never accepted a second time.
    user.replay_window_seconds = user.dedupe_window_seconds = 60
    user.save()
    first, within, after = _one_body_posted_at(web, user, monkeypatch, 0, 59, 61)

    assert (first.status_code, within.status_code) == (202, 200)
    assert after.status_code >= 400 and "replay" in after.text
    assert Signal.objects.filter(http_status=202).count() == 1


def test_the_same_body_for_two_users_is_two_signals(web):
    alice, bob = UserFactory(), UserFactory()
    bob.webhook_secret = alice.webhook_secret
    bob.save()
    body = sent_alert(alice)
    body_for_bob = dict(body, user_id=str(bob.id))

    assert post(web, alice.id, body).status_code == 202
    assert post(web, bob.id, body_for_bob).status_code == 202


# --- refused: each answers as README "Webhook" says, stores one rejection and nothing else -------------------


def test_unparseable_json_is_400_and_kept_as_masked_text(web, user, ip, caplog):
    raw = f'{{"user_id": "{user.id}", "secret": "{user.webhook_secret}", "tv": {{oops'

    with caplog.at_level(logging.WARNING, logger="trading.webhook"):
        response = post(web, user.id, raw)

    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid JSON payload: the body must be a JSON object."}
    signal = assert_only_the_rejection(http_status=400, user=user, ip=ip)
    assert signal.payload["raw"].startswith(f'{{"user_id": "{user.id}", "secret": "***"')
    assert_no_secret(signal, user.webhook_secret)
    assert ip in caplog.text and "400" in caplog.text


@pytest.mark.parametrize("body", ['["a", "list"]', '"text"', "null", "", '{"entry_price": NaN', "\xff\xfe{"])
def test_json_that_is_not_an_object_is_400(web, user, ip, body):
    response = post(web, user.id, body.encode("latin-1"))

    assert response.status_code == 400
    assert_only_the_rejection(http_status=400, user=user, ip=ip)


def test_a_malformed_content_length_reads_as_an_empty_body(web, user, ip):
    response = post(web, user.id, sent_alert(user), CONTENT_LENGTH="lots")

    assert response.status_code == 400
    assert assert_only_the_rejection(http_status=400, user=user, ip=ip).reason == "Body is empty."


def test_an_unparseable_body_is_stored_truncated(web, user, ip):
    raw = "secret=" + user.webhook_secret + " " + "x" * 10_000

    post(web, user.id, raw, content_type="text/plain")

    signal = assert_only_the_rejection(http_status=400, user=user, ip=ip)
    assert len(signal.payload["raw"]) == STORED_REJECTED_BODY_BYTES and signal.payload["truncated"] is True
    assert signal.payload["raw_bytes"] == len(raw)
    assert_no_secret(signal, user.webhook_secret)


def test_a_missing_secret_is_401(web, user, ip):
    body = sent_alert(user)
    del body["secret"]

    response = post(web, user.id, body)

    assert response.status_code == 401
    assert response.json() == {"detail": "Missing secret in payload."}
    assert_only_the_rejection(http_status=401, user=user, ip=ip)


def test_a_secret_under_the_wrong_key_is_401_and_never_stored(web, user, ip):
    body = sent_alert(user, strategy_info={"alert_message": f"my secret is {user.webhook_secret}"})
    body["Secret"] = body.pop("secret")

    assert post(web, user.id, body).status_code == 401

    signal = assert_only_the_rejection(http_status=401, user=user, ip=ip)
    assert signal.payload["Secret"] == "***"
    assert_no_secret(signal, user.webhook_secret)


def test_a_wrong_secret_is_403_stored_for_the_user_without_the_secret(web, user, ip, caplog):
    wrong = "an-old-rotated-secret-value"

    with caplog.at_level(logging.WARNING, logger="trading.webhook"):
        response = post(web, user.id, sent_alert(user, secret=wrong, strategy_info={"alert_message": wrong}))

    assert response.status_code == 403
    assert response.json() == {"detail": "Invalid secret or unknown user."}
    signal = assert_only_the_rejection(http_status=403, user=user, ip=ip)
    assert "secret" not in signal.payload
    assert_no_secret(signal, wrong, user.webhook_secret)
    assert ip in caplog.text
    assert wrong not in caplog.text and user.webhook_secret not in caplog.text


def test_unknown_user_and_malformed_id_get_the_same_403_as_a_wrong_secret(web, user, ip):
    wrong_secret = post(web, user.id, sent_alert(user, secret="not-the-secret"))
    stranger = uuid.uuid4()
    unknown_user = post(web, stranger, sent_alert(user, user_id=str(stranger)))
    malformed = post(web, "not-a-uuid", sent_alert(user, user_id="not-a-uuid"))

    assert wrong_secret.status_code == unknown_user.status_code == malformed.status_code == 403
    assert wrong_secret.content == unknown_user.content == malformed.content
    assert wrong_secret.headers["Content-Type"] == unknown_user.headers["Content-Type"]
    # The trader sees their own; the unknown-user attempts are only counted, for the operator.
    signal = Signal.objects.get()
    assert (signal.user, signal.http_status, signal.status) == (user, 403, Signal.Status.REJECTED)
    assert_no_secret(signal, user.webhook_secret)
    tally = WebhookRejectionTally.objects.get()
    assert (tally.network, tally.count, tally.last_http_status) == (ip, 2, 403)
    assert "not-a-uuid" in tally.last_reason
    assert PositionGroup.objects.count() == 0


def test_an_inactive_user_is_refused_like_an_unknown_one(web, user, ip):
    user.is_active = False
    user.save()

    response = post(web, user.id, sent_alert(user))

    assert response.status_code == 403
    assert response.json() == {"detail": "Invalid secret or unknown user."}
    assert Signal.objects.count() == 0
    assert WebhookRejectionTally.objects.get().count == 1


def test_a_body_over_64_kib_is_413_and_not_stored(web, user, ip):
    body = sent_alert(user, strategy_info={"alert_message": "x" * (64 * 1024)})

    response = post(web, user.id, body)

    assert response.status_code == 413
    signal = assert_only_the_rejection(http_status=413, user=user, ip=ip)
    assert signal.payload is None


def test_a_declared_length_over_64_kib_is_413_without_reading_the_body(web, user, ip):
    response = post(web, user.id, sent_alert(user), CONTENT_LENGTH=str(64 * 1024 + 1))

    assert response.status_code == 413
    assert_only_the_rejection(http_status=413, user=user, ip=ip)


def test_a_body_of_exactly_64_kib_is_accepted(web, user):
    body = sent_alert(user)
    padding = 64 * 1024 - len(json.dumps(sent_alert(user, strategy_info={"alert_message": ""})))
    body["strategy_info"]["alert_message"] = "x" * padding
    assert len(json.dumps(body)) == 64 * 1024

    assert post(web, user.id, body).status_code == 202


def test_validation_errors_are_422_with_every_error_in_detail(web, user, ip):
    body = sent_alert(user, tv={"timeframe": "30S", "entry_price": "-1"}, execution_intent={"type": "open"})
    del body["tv"]["symbol"]

    response = post(web, user.id, body)

    assert response.status_code == 422
    detail = response.json()["detail"]
    assert sorted(error["loc"] for error in detail) == sorted(
        [["tv", "symbol"], ["tv", "timeframe"], ["tv", "entry_price"], ["execution_intent", "type"]]
    )
    assert {"loc": ["tv", "symbol"], "msg": "Field required", "type": "missing"} in detail
    signal = assert_only_the_rejection(http_status=422, user=user, ip=ip)
    assert "tv.symbol: Field required" in signal.reason
    assert "secret" not in signal.payload
    assert_no_secret(signal, user.webhook_secret)
    assert signal.exchange == "binance"  # what could be read, for the signals page


def test_placeholders_left_in_nested_fields_are_422_at_their_location(web, user, ip):
    body = sent_alert(user, tv={"symbol": "{{ticker}}"}, strategy_info={"alert_message": "TP {{plot_1}}"})
    body["notes"] = {"levels": ["ok", "{{plot_2}}"]}

    response = post(web, user.id, body)

    assert response.status_code == 422
    detail = response.json()["detail"]
    assert sorted(error["loc"] for error in detail) == sorted(
        [["tv", "symbol"], ["strategy_info", "alert_message"], ["notes", "levels", 1]]
    )
    assert all(error["msg"].startswith("Unreplaced placeholder") for error in detail)
    assert_only_the_rejection(http_status=422, user=user, ip=ip)


def test_a_timestamp_older_than_the_replay_window_is_422(web, user, ip):
    stale = (datetime.now(UTC) - timedelta(seconds=user.replay_window_seconds + 60)).strftime("%Y-%m-%dT%H:%M:%SZ")

    response = post(web, user.id, sent_alert(user, timestamp=stale))

    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["timestamp"]]
    assert "replay window" in response.json()["detail"][0]["msg"]
    assert_only_the_rejection(http_status=422, user=user, ip=ip)


def test_the_replay_window_is_the_users_own(web, user):
    user.replay_window_seconds = 60
    user.save()
    two_minutes_ago = (datetime.now(UTC) - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")

    assert post(web, user.id, sent_alert(user, timestamp=two_minutes_ago)).status_code == 422


def test_a_timestamp_far_in_the_future_is_422(web, user):
    future = (datetime.now(UTC) + timedelta(minutes=11)).strftime("%Y-%m-%dT%H:%M:%SZ")

    response = post(web, user.id, sent_alert(user, timestamp=future))

    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "timestamp_in_future"


def test_a_body_naming_another_user_is_422_at_user_id(web, user, ip):
    other = UserFactory()

    response = post(web, user.id, sent_alert(user, user_id=str(other.id)))

    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"loc": ["user_id"], "msg": "user_id does not match the user of this webhook URL", "type": "value_error"}
    ]
    assert_only_the_rejection(http_status=422, user=user, ip=ip)


def test_only_post_is_allowed(web, user):
    assert web.get(url(user.id)).status_code == 405
    assert Signal.objects.count() == 0


# --- rate limits -----------------------------------------------------------------------------------


def test_over_the_per_ip_limit_is_429_with_retry_after_and_not_stored(web, user, settings, caplog):
    settings.WEBHOOK_RATE_LIMIT_PER_IP = 3
    wait_for_a_fresh_rate_window()
    answers = [post(web, user.id, sent_alert(user)).status_code for _ in range(3)]

    with caplog.at_level(logging.WARNING, logger="trading.webhook"):
        refused = post(web, user.id, sent_alert(user))
        refused_again = post(web, user.id, "not even json")

    assert answers == [202, 202, 202]
    assert refused.status_code == refused_again.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "Retry in" in refused.json()["detail"]
    assert Signal.objects.count() == 3  # the refused requests left no record
    assert "rate limit" in caplog.text
    # Another address is not affected.
    assert post(Client(REMOTE_ADDR=next(_addresses)), user.id, sent_alert(user)).status_code == 202


def test_over_the_per_user_limit_is_429_for_that_user_only(web, user, settings):
    settings.WEBHOOK_RATE_LIMIT_PER_USER = 2
    other = UserFactory()
    wait_for_a_fresh_rate_window()

    answers = [post(web, user.id, sent_alert(user)).status_code for _ in range(3)]

    assert answers == [202, 202, 429]
    assert post(web, other.id, sent_alert(other)).status_code == 202
    assert Signal.objects.filter(user=user).count() == 2


def test_a_wrong_secret_does_not_use_up_the_users_allowance(web, user, settings):
    settings.WEBHOOK_RATE_LIMIT_PER_USER = 1
    wait_for_a_fresh_rate_window()

    assert post(web, user.id, sent_alert(user, secret="guess-guess-guess")).status_code == 403
    assert post(web, user.id, sent_alert(user)).status_code == 202


# --- client address, proxies and the allowlist -----------------------------------------------------------


def test_allowlist_behind_a_trusted_proxy_uses_the_forwarded_address(user, settings):
    settings.WEBHOOK_TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.WEBHOOK_ALLOWED_IPS = TRADINGVIEW_IPS
    proxy = Client(REMOTE_ADDR="10.1.2.3")

    response = post(proxy, user.id, sent_alert(user), HTTP_X_FORWARDED_FOR="203.0.113.9, 52.89.214.238, 10.0.0.7")

    assert response.status_code == 202
    assert Signal.objects.get().client_ip == "52.89.214.238"


@pytest.mark.parametrize(
    ("peer", "forwarded_for"),
    [
        # The client put TradingView's address in the header itself; the trusted proxy appended the real one.
        ("10.1.2.3", "52.89.214.238, 198.51.100.23"),
        # The header of a peer that is no trusted proxy is not read at all.
        ("198.51.100.23", "52.89.214.238"),
    ],
    ids=["spoofed-entry-behind-the-proxy", "untrusted-peer"],
)
def test_allowlist_judges_the_real_client_not_a_forwarded_for_claim(user, settings, peer, forwarded_for):
    settings.WEBHOOK_TRUSTED_PROXIES = ["10.1.2.3"]
    settings.WEBHOOK_ALLOWED_IPS = TRADINGVIEW_IPS

    response = post(Client(REMOTE_ADDR=peer), user.id, sent_alert(user), HTTP_X_FORWARDED_FOR=forwarded_for)

    assert response.status_code == 403
    assert response.json() == {"detail": "Source address not allowed."}
    signal = assert_only_the_rejection(http_status=403, user=user, ip="198.51.100.23")
    assert "198.51.100.23" in signal.reason
    assert_no_secret(signal, user.webhook_secret)


def test_allowlist_lets_tradingview_in_directly(user, settings):
    settings.WEBHOOK_ALLOWED_IPS = TRADINGVIEW_IPS

    for address in TRADINGVIEW_IPS:
        assert post(Client(REMOTE_ADDR=address), user.id, sent_alert(user)).status_code == 202


def test_the_stored_client_ip_is_the_peer_without_trusted_proxies(web, user, ip):
    post(web, user.id, sent_alert(user), HTTP_X_FORWARDED_FOR="52.89.214.238")

    assert Signal.objects.get().client_ip == ip


# --- failures of the servers behind it ---------------------------------------------------------------------


def test_with_the_broker_down_the_alert_is_still_stored_and_answered_202_quickly(
    web, user, broker_down, django_capture_on_commit_callbacks, caplog
):
    started = time.monotonic()
    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        response = post(web, user.id, sent_alert(user))
    elapsed = time.monotonic() - started

    assert response.status_code == 202
    assert elapsed < 2
    signal = Signal.objects.get()
    assert str(signal.id) == response.json()["signal_id"]
    assert signal.status == Signal.Status.RECEIVED and signal.routed_at is None  # the sweep will send it
    assert "could not enqueue routing" in caplog.text


def test_when_the_broker_is_back_the_sweep_sends_what_it_missed(
    web, user, monkeypatch, django_capture_on_commit_callbacks
):
    from config.celery import app

    with monkeypatch.context() as down:
        down.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")
        down.setattr(app, "_pool", None)
        down.setattr(app.amqp, "_producer_pool", None)
        with django_capture_on_commit_callbacks(execute=True):
            signal_id = post(web, user.id, sent_alert(user)).json()["signal_id"]
    assert routing_messages(signal_id) == 0
    Signal.objects.filter(id=signal_id).update(received_at=timezone.now() - timedelta(minutes=2))

    with django_capture_on_commit_callbacks(execute=True):
        signal_sweep()

    assert routing_messages(signal_id) == 1


@pytest.mark.django_db(transaction=True)
def test_with_the_database_down_the_answer_is_503_so_tradingview_resends(monkeypatch):
    user = UserFactory()
    web = Client(REMOTE_ADDR=next(_addresses))
    body = sent_alert(user)
    connection.close()
    monkeypatch.setitem(connection.settings_dict, "PORT", "1")
    try:
        response = post(web, user.id, body)
    finally:
        monkeypatch.undo()
        connection.close()

    assert response.status_code == 503
    assert "detail" in response.json()
    assert Signal.objects.count() == 0
    # Sent again once the database is back, it is accepted.
    assert post(web, user.id, body).status_code == 202


def test_rate_limits_also_count_in_the_embedded_file_cache(web, user, settings, tmp_path):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(tmp_path)}
    }
    settings.WEBHOOK_RATE_LIMIT_PER_IP = 2
    wait_for_a_fresh_rate_window()

    answers = [post(web, user.id, sent_alert(user)).status_code for _ in range(3)]

    assert answers == [202, 202, 429]


def test_with_the_cache_down_alerts_still_get_through(web, user, settings, monkeypatch):
    from trading.webhook import limits

    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    monkeypatch.setattr(limits.counters, "skip_until", 0.0)
    settings.WEBHOOK_RATE_LIMIT_PER_IP = 1

    answers = [post(web, user.id, sent_alert(user)).status_code for _ in range(3)]

    assert answers == [202, 202, 202]  # fails open: refusing alerts is worse than no flood guard
    assert Signal.objects.count() == 3


def test_a_nul_character_is_422_at_its_field_and_the_rejection_is_stored_readable(web, user, ip):
    # Valid JSON ("\u0000"), but PostgreSQL stores no NUL: a 503 would have TradingView resend it forever.
    body = sent_alert(user, strategy_info={"alert_message": "entry\u0000"})
    body["notes\u0000"] = "x"

    response = post(web, user.id, body)

    assert response.status_code == 422
    detail = response.json()["detail"]
    assert sorted(error["loc"] for error in detail) == [["notes\\u0000"], ["strategy_info", "alert_message"]]
    assert {error["type"] for error in detail} == {"string_nul"}
    signal = assert_only_the_rejection(http_status=422, user=user, ip=ip)
    assert signal.payload["strategy_info"]["alert_message"] == "entry\ufffd"
    assert "notes\ufffd" in signal.payload


def test_a_nul_byte_in_an_unparseable_body_is_stored_readable(web, user, ip):
    response = post(web, user.id, b'{"secret": "x", \x00 broken', content_type="text/plain")

    assert response.status_code == 400
    signal = assert_only_the_rejection(http_status=400, user=user, ip=ip)
    assert "\x00" not in signal.payload["raw"] and "\ufffd" in signal.payload["raw"]


# --- hostile bodies: deep nesting, absurd numbers, floods (issue 14) -------------------------------------


def nested(kind: str, depth: int) -> str:
    """A JSON value nested ``depth`` levels: arrays, objects, or both in turn."""
    if kind == "arrays":
        return "[" * depth + "]" * depth
    if kind == "objects":
        return '{"a":' * depth + "1" + "}" * depth
    opening = "".join('{"a":' if level % 2 else "[" for level in range(depth))
    closing = "".join("}" if level % 2 else "]" for level in reversed(range(depth)))
    return opening + "1" + closing


@pytest.mark.parametrize(
    ("kind", "depth"),
    [
        ("arrays", 33),
        ("arrays", 950),
        ("arrays", 30_000),
        ("objects", 33),
        ("objects", 950),
        ("objects", 10_000),
        ("mixed", 500),
        ("mixed", 1_000),
    ],
)
def test_json_nested_deeper_than_32_levels_is_400_stored_bounded_and_logs_no_traceback(
    web, user, ip, caplog, kind, depth
):
    # The nested value sits one level below the top object: depth + 1 levels in all.
    body = f'{{"secret": "{user.webhook_secret}", "user_id": "{user.id}", "deep": {nested(kind, depth)}}}'

    with caplog.at_level(logging.DEBUG):
        response = post(web, user.id, body)

    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid JSON payload: nested deeper than 32 levels."}
    signal = assert_only_the_rejection(http_status=400, user=user, ip=ip)
    assert signal.reason == "Body is nested deeper than 32 levels."
    assert len(signal.payload["raw"].encode()) <= STORED_REJECTED_BODY_BYTES
    assert signal.payload["raw"].startswith('{"secret": "***"')
    assert_no_secret(signal, user.webhook_secret)
    assert "webhook 400" in caplog.text and "Traceback" not in caplog.text
    assert not [record for record in caplog.records if record.exc_info]


def test_json_nested_exactly_32_levels_is_read(web, user):
    body = json.dumps(sent_alert(user, notes=json.loads(nested("arrays", 31))))  # top object + 31 = 32

    assert post(web, user.id, body).status_code == 202


def with_number(user, loc: tuple, literal: str) -> str:
    """The alert as JSON text with ``literal`` (written as is, e.g. an unquoted NaN) at ``loc``."""
    body = sent_alert(user)
    section = body
    for key in loc[:-1]:
        section = section.setdefault(key, {})
    section[loc[-1]] = "__NUMBER__"
    return json.dumps(body).replace('"__NUMBER__"', literal)


@pytest.mark.parametrize(
    ("loc", "literal"),
    [
        (("tv", "entry_price"), "1e999999"),
        (("tv", "entry_price"), "NaN"),
        (("tv", "order_size"), "Infinity"),
        (("risk", "stop_loss"), "-Infinity"),
        (("tv", "close_price"), '"-inf"'),
        (("tv", "market_position_size"), "1e400"),
        (("risk", "take_profit"), "1e99999999999999999999999999"),
        (("tv", "timeframe"), "1e999999"),
        (("timestamp",), "1e999999"),
        (("timestamp",), "9" * 4000),
        (("strategy_info", "bar_index"), "1e999999"),  # a field the engine does not read
    ],
)
def test_a_non_finite_or_absurd_number_is_422_at_its_field_and_stored_finite(web, user, ip, loc, literal):
    response = post(web, user.id, with_number(user, loc, literal))

    assert response.status_code == 422  # never a 503 that TradingView would resend forever
    assert [error["loc"] for error in response.json()["detail"]] == [list(loc)]
    signal = assert_only_the_rejection(http_status=422, user=user, ip=ip)
    assert f"{'.'.join(loc)}: " in signal.reason
    json.dumps(signal.payload, allow_nan=False)  # no stored infinity or NaN
    assert "secret" not in signal.payload


def test_a_number_with_more_digits_than_a_float_is_stored_and_routed_exactly(web, user):
    body = with_number(user, ("tv", "entry_price"), "60000.123456789012345678")

    assert post(web, user.id, body).status_code == 202

    signal = Signal.objects.get()
    assert signal.entry_price == Decimal("60000.123456789012")  # the column's 12 places, not a float's 17 digits
    assert Decimal(signal.payload["tv"]["entry_price"]) == Decimal("60000.123456789012345678")


def test_a_body_repeated_inside_the_replay_window_is_a_duplicate(web, user, monkeypatch):
    """Both windows are 600 s: the copy TradingView (or anyone holding the body) sends 323 s later,
    still inside the replay window, must not act again (dedupe was 300 s)."""
    first, again = _one_body_posted_at(web, user, monkeypatch, 0, 323)

    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate", "signal_id": first.json()["signal_id"]}
    assert Signal.objects.count() == 1


def test_a_body_stamped_ahead_of_our_clock_stays_a_duplicate_while_it_passes_the_replay_check(web, user, monkeypatch):
    """Stamped 500 s ahead (a sender's fast clock), the body passes the replay check until its stamp
    + 600 s: 1,100 s after it first arrived, past the dedupe window counted from its arrival."""
    received_at = timezone.now().replace(microsecond=0)
    body = json.dumps(sent_alert(user, timestamp=(received_at + timedelta(seconds=500)).strftime("%Y-%m-%dT%H:%M:%SZ")))
    monkeypatch.setattr(timezone, "now", lambda: received_at)
    first = post(web, user.id, body)

    monkeypatch.setattr(timezone, "now", lambda: received_at + timedelta(seconds=1000))
    again = post(web, user.id, body)

    assert first.status_code == 202
    assert (again.status_code, again.json()["signal_id"]) == (200, first.json()["signal_id"])
    assert Signal.objects.count() == 1


def test_a_refused_body_is_stored_up_to_4_kib(web, user, ip):
    big = sent_alert(user, secret="an-old-rotated-secret-value", strategy_info={"alert_message": "y" * 60_000})

    response = post(web, user.id, big)

    assert response.status_code == 403
    signal = assert_only_the_rejection(http_status=403, user=user, ip=ip)
    assert len(signal.payload["raw"].encode()) == STORED_REJECTED_BODY_BYTES  # of ~60 KB sent
    assert signal.payload["truncated"] is True
    assert signal.payload["raw_bytes"] == len(json.dumps(big))
    assert_no_secret(signal, "an-old-rotated-secret-value", user.webhook_secret)


def test_an_invalid_alert_keeps_4_kib_and_a_small_one_whole(web, user):
    post(web, user.id, sent_alert(user, tv={"entry_price": "-1"}, strategy_info={"alert_message": "é" * 5_000}))
    post(web, user.id, sent_alert(user, tv={"entry_price": "-2"}))

    large, small = Signal.objects.order_by("received_at")
    assert large.http_status == small.http_status == 422
    assert len(large.payload["raw"].encode()) <= STORED_REJECTED_BODY_BYTES and large.payload["truncated"]
    assert small.payload["tv"]["entry_price"] == "-2"  # small enough to keep as sent


def ipv6_subnet() -> str:
    """A fresh /64 in the documentation range, so the rate counters of earlier tests never carry over."""
    return f"2001:db8:{random.randrange(1 << 16):x}:{random.randrange(1 << 16):x}"


def test_the_per_ip_limit_counts_an_ipv6_client_by_its_64(user, settings):
    settings.WEBHOOK_RATE_LIMIT_PER_IP = 2
    subnet = ipv6_subnet()
    wait_for_a_fresh_rate_window()

    answers = [
        post(Client(REMOTE_ADDR=f"{subnet}::{host}"), user.id, sent_alert(user)).status_code
        for host in ("1", "2", "ffff:ffff:3")
    ]

    assert answers == [202, 202, 429]  # three addresses of one /64 share one allowance
    assert post(Client(REMOTE_ADDR=f"{ipv6_subnet()}::1"), user.id, sent_alert(user)).status_code == 202
    assert Signal.objects.count() == 3


def test_requests_for_unknown_users_are_counted_per_network_and_hour_not_stored(user):
    subnet = ipv6_subnet()
    junk = ["not json", json.dumps({"no": "secret"}), json.dumps(sent_alert(user, secret="guess-guess-guess"))]

    answers = [
        post(Client(REMOTE_ADDR=f"{subnet}::{n % 7 + 1}"), uuid.uuid4(), junk[n % 3]).status_code for n in range(30)
    ]
    post(Client(REMOTE_ADDR=f"{ipv6_subnet()}::1"), "not-a-uuid", "junk")

    assert sorted(set(answers)) == [400, 401, 403]
    assert Signal.objects.count() == 0  # nothing row by row
    tallies = WebhookRejectionTally.objects.filter(network=f"{subnet}::/64")
    assert sum(tally.count for tally in tallies) == 30 and 1 <= len(tallies) <= 2  # 2 across an hour's end
    assert WebhookRejectionTally.objects.count() == len(tallies) + 1
    assert user.webhook_secret not in "".join(tally.last_reason for tally in WebhookRejectionTally.objects.all())


def test_refusals_for_a_known_user_past_the_hours_allowance_are_only_counted(user, settings):
    settings.WEBHOOK_REFUSALS_KEPT_PER_USER_PER_HOUR = 3
    subnet = ipv6_subnet()
    attacker = Client(REMOTE_ADDR=f"{subnet}::9")  # knows the URL, not the secret

    answers = [post(attacker, user.id, f"junk {n}", content_type="text/plain").status_code for n in range(8)]
    accepted = post(Client(REMOTE_ADDR=next(_addresses)), user.id, sent_alert(user))

    assert answers == [400] * 8 and accepted.status_code == 202
    assert Signal.objects.filter(user=user, http_status=400).count() == 3
    assert sum(WebhookRejectionTally.objects.filter(network=f"{subnet}::/64").values_list("count", flat=True)) == 5
    assert Signal.objects.filter(user=user, http_status=202).count() == 1  # real alerts are never capped
