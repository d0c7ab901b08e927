"""No web request calls an exchange or Telegram (issue 14, item 10): one trader's slow exchange must not
hold the web workers the webhook needs.

Test connection, the Telegram test, promote, the exchange sync and the risk evaluation answer at once
(API: 202 with a job and the URL to poll; pages: back to the page, which polls the job's fragment
with htmx) and only the worker reaches the exchange or Telegram. Each test asserts what reached the
outside during the request (nothing), then runs what the request handed over, as the worker would,
and reads the outcome where the trader reads it.
"""

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from exchanges.models import PaperBalance, PaperOrder
from exchanges.paper.services import paper_price_set
from jobs.models import Job
from jobs.services import jobs_tidy
from jobs.states import JobStatus
from tests.api_client import client_for
from tests.factories import ExchangeAccountFactory
from tests.jobs.conftest import dashboard_for
from tests.notifications.conftest import TOKEN
from trading.models import Order, PositionGroup, QueuedSignal

pytestmark = pytest.mark.django_db


def job_fragment(page: str, job_id) -> str:
    """The job's fragment as a page shows it (the empty string when the page does not show it)."""
    match = re.search(rf'<div id="job-{job_id}".*?</div>', page, re.S)
    return match.group(0) if match else ""


def assert_polls_without_script(fragment: str, job_id) -> None:
    assert f'hx-get="/partials/jobs/{job_id}/"' in fragment and 'hx-trigger="every 1s"' in fragment
    # The strict Content-Security-Policy allows no inline script: htmx attributes only.
    assert "<script" not in fragment and not re.search(r"\son[a-z]+\s*=", fragment)


# --- Test connection -------------------------------------------------------------------------------------


def test_test_connection_answers_202_and_only_the_worker_reaches_the_exchange(
    user, network_tap, worker, django_capture_on_commit_callbacks
):
    account = ExchangeAccountFactory(user=user, mode="live", api_key="AKIA-test-key", api_secret="s3cr3t-test")
    api = client_for(user)

    with django_capture_on_commit_callbacks() as handed_over:
        response = api.post(f"/api/v1/exchange-accounts/{account.pk}/test-connection/")

    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["kind"], body["status"], body["result"], body["message"]) == (
        "exchange_test_connection",
        "queued",
        None,
        "",
    )
    assert body["url"] == f"http://testserver/api/v1/jobs/{body['id']}/" == response["Location"]
    assert network_tap == []  # the request did not try to reach binance

    worker(handed_over)

    assert network_tap and all("binance" in host for host in network_tap)  # the worker did
    polled = api.get(body["url"])
    assert polled.status_code == 200
    job = polled.json()
    assert job["status"] == "failed" and job["started_at"] and job["finished_at"]
    assert job["message"].startswith("binance (live): the connection failed: ")
    assert job["result"]["ok"] is False and job["result"]["error"] and job["result"]["error"] in job["message"]
    assert "AKIA-test-key" not in polled.content.decode() and "s3cr3t-test" not in polled.content.decode()
    account.refresh_from_db()
    assert account.last_connection_error == job["result"]["error"]


def test_test_connection_on_the_page_shows_running_then_the_balance(trader, worker, django_capture_on_commit_callbacks):
    account = trader.exchange_accounts.get()
    web = dashboard_for(trader)
    edit_page = reverse("exchange-account-edit", args=[account.pk])

    with django_capture_on_commit_callbacks() as handed_over:
        response = web.post(reverse("exchange-account-test", args=[account.pk]), {"next": edit_page})

    job = Job.objects.get(user=trader)
    assert response.status_code == 302 and response.url == f"{edit_page}?job={job.pk}"
    assert not PaperBalance.objects.filter(account=account).exists()  # the paper exchange was not asked
    waiting = job_fragment(web.get(response.url).content.decode(), job.pk)
    assert "Test connection: binance (paper)" in waiting and "waiting for a worker…" in waiting
    assert_polls_without_script(waiting, job.pk)

    worker(handed_over)

    done = web.get(reverse("partial-job", args=[job.pk])).content.decode()
    assert "binance (paper): connected; balance 100000 USDT." in done
    assert 'class="job succeeded"' in done and "hx-trigger" not in done  # finished: the polling stops
    assert "connected; balance 100000 USDT." in job_fragment(web.get(response.url).content.decode(), job.pk)


# --- Telegram test ---------------------------------------------------------------------------------------


def test_telegram_test_answers_202_and_only_the_worker_calls_telegram(
    user, fake_telegram, telegram_on, worker, django_capture_on_commit_callbacks
):
    telegram_on(user)
    api = client_for(user)

    with django_capture_on_commit_callbacks() as handed_over:
        response = api.post("/api/v1/telegram/test/")

    assert response.status_code == 202 and response.json()["kind"] == "telegram_test"
    assert fake_telegram.sent() == []

    worker(handed_over)

    (sent,) = fake_telegram.sent("sendMessage")
    assert sent.body["chat_id"] == "@signals" and "Test message" in sent.body["text"]
    job = api.get(response.json()["url"]).json()
    assert (job["status"], job["message"]) == ("succeeded", "Test message sent to Telegram (@signals).")
    assert job["result"] == {"ok": True, "status_code": 200, "description": "", "message_id": 101}
    assert TOKEN not in json.dumps(job)


def test_a_telegram_refusal_ends_the_job_failed_with_telegrams_words(
    user, fake_telegram, telegram_on, worker, django_capture_on_commit_callbacks
):
    telegram_on(user)
    fake_telegram.answer_next(
        "sendMessage", 400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
    )
    web = dashboard_for(user)

    with django_capture_on_commit_callbacks() as handed_over:
        response = web.post(reverse("telegram-test"))

    job = Job.objects.get(user=user)
    assert response.url == f"/settings/?job={job.pk}#telegram"
    assert fake_telegram.sent() == []
    worker(handed_over)
    done = job_fragment(web.get(response.url).content.decode(), job.pk)
    assert "The test message was not sent: Bad Request: chat not found" in done and 'class="job failed"' in done


def test_telegram_test_without_a_token_is_refused_at_once_and_queues_nothing(
    user, fake_telegram, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as handed_over:
        response = client_for(user).post("/api/v1/telegram/test/")

    assert response.status_code == 409 and response.json() == {"detail": "Set the bot token and channel id first."}
    assert not handed_over and not Job.objects.exists() and fake_telegram.sent() == []


# --- Promote ---------------------------------------------------------------------------------------------


def test_promote_answers_202_and_the_position_opens_only_in_the_worker(
    trader, queued, worker, django_capture_on_commit_callbacks
):
    api = client_for(trader)

    with django_capture_on_commit_callbacks() as handed_over:
        response = api.post(f"/api/v1/queue/{queued.pk}/promote/")

    assert response.status_code == 202 and response.json()["title"] == "Promote long ETH/USDT 15m"
    queued.refresh_from_db()
    assert queued.status == QueuedSignal.Status.QUEUED
    assert not PositionGroup.objects.filter(symbol="ETH/USDT").exists()
    assert not PaperOrder.objects.filter(symbol="ETH/USDT").exists()

    worker(handed_over)

    eth = PositionGroup.objects.get(symbol="ETH/USDT")
    assert PaperOrder.objects.filter(symbol="ETH/USDT").count() == 5  # the grid reached the paper exchange
    job = api.get(response.json()["url"]).json()
    assert job["status"] == "succeeded" and job["message"].startswith("long ETH/USDT 15m promoted: opened.")
    assert (job["result"]["status"], job["result"]["queue_status"], job["result"]["position_group"]) == (
        "opened",
        "promoted",
        str(eth.pk),
    )


def test_promote_on_the_queue_page_shows_the_outcome_with_a_link_to_the_position(
    trader, queued, worker, django_capture_on_commit_callbacks
):
    web = dashboard_for(trader)

    with django_capture_on_commit_callbacks() as handed_over:
        response = web.post(reverse("queue-promote", args=[queued.pk]))

    job = Job.objects.get(user=trader)
    assert response.url == f"/queue/?job={job.pk}"
    page = web.get(response.url).content.decode()
    assert "Promote long ETH/USDT 15m" in job_fragment(page, job.pk)
    assert_polls_without_script(job_fragment(page, job.pk), job.pk)
    assert not PositionGroup.objects.filter(symbol="ETH/USDT").exists()

    worker(handed_over)

    done = web.get(reverse("partial-job", args=[job.pk])).content.decode()
    eth = PositionGroup.objects.get(symbol="ETH/USDT")
    assert "long ETH/USDT 15m promoted: opened." in done
    assert f'href="{reverse("position-detail", args=[eth.pk])}"' in done


def test_a_promote_no_worker_started_in_time_is_dropped_and_never_opens_late(
    trader, queued, worker, settings, django_capture_on_commit_callbacks
):
    api = client_for(trader)
    with django_capture_on_commit_callbacks() as handed_over:
        job_id = api.post(f"/api/v1/queue/{queued.pk}/promote/").json()["id"]

    later = timezone.now() + timedelta(seconds=settings.JOB_START_TIMEOUT_SECONDS + 1)
    assert jobs_tidy(now=later).failed_unstarted == 1
    worker(handed_over)  # the worker comes back and finally gets the message

    job = api.get(f"/api/v1/jobs/{job_id}/").json()
    assert job["status"] == "failed" and job["started_at"] is None
    assert job["message"].startswith(f"No worker started this within {settings.JOB_START_TIMEOUT_SECONDS} s")
    queued.refresh_from_db()
    assert queued.status == QueuedSignal.Status.QUEUED
    assert not PositionGroup.objects.filter(symbol="ETH/USDT").exists()


# --- Exchange sync ---------------------------------------------------------------------------------------


def test_sync_exchange_answers_202_and_fills_are_read_only_in_the_worker(
    trader, route, worker, django_capture_on_commit_callbacks
):
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=Decimal("101"))  # above the grid: all legs rest
    group = route(entry_price="100").position_group
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=Decimal("99.2"))  # the exchange fills 100 and 99.50
    api = client_for(trader)

    with django_capture_on_commit_callbacks() as handed_over:
        response = api.post("/api/v1/risk/sync-exchange/")

    assert response.status_code == 202 and response.json()["kind"] == "exchange_sync"
    assert not Order.objects.filter(group=group, status="filled").exists()  # nothing read during the request

    worker(handed_over)

    assert Order.objects.filter(group=group, role="entry", status="filled").count() == 2
    job = api.get(response.json()["url"]).json()
    assert (job["status"], job["message"]) == ("succeeded", "Synced 1 account(s): 1 position(s) changed.")
    [account] = job["result"]["accounts"]
    assert account["symbols"] == [{"symbol": "BTC/USDT", "groups_changed": 1, "error": ""}]


# --- Whose job, broker outages, housekeeping --------------------------------------------------------------


def test_another_trader_can_neither_read_the_job_nor_see_it_on_a_page(
    trader, stranger, django_capture_on_commit_callbacks
):
    account = trader.exchange_accounts.get()
    with django_capture_on_commit_callbacks():
        job_id = client_for(trader).post(f"/api/v1/exchange-accounts/{account.pk}/test-connection/").json()["id"]

    assert client_for(stranger).get(f"/api/v1/jobs/{job_id}/").status_code == 404
    web = dashboard_for(stranger)
    assert web.get(reverse("partial-job", args=[job_id])).status_code == 404
    assert job_fragment(web.get(f"/settings/?job={job_id}").content.decode(), job_id) == ""
    assert client_for(trader).get(f"/api/v1/jobs/{job_id}/").status_code == 200


@pytest.mark.django_db(transaction=True)  # commits as in production, so the hand-over runs inside the request
def test_with_the_broker_down_the_job_fails_at_once_and_says_so(trader, broker_down):
    account = trader.exchange_accounts.get()

    response = client_for(trader).post(f"/api/v1/exchange-accounts/{account.pk}/test-connection/")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failed" and body["message"].startswith("The background queue could not be reached")
    assert not PaperBalance.objects.filter(account=account).exists()

    web = dashboard_for(trader)
    redirect = web.post(reverse("exchange-account-test", args=[account.pk]))
    shown = job_fragment(web.get(redirect.url).content.decode(), Job.objects.latest("created_at").pk)
    assert "The background queue could not be reached" in shown and "hx-trigger" not in shown


def test_housekeeping_fails_abandoned_jobs_and_deletes_old_finished_ones(trader, settings):
    now = timezone.now()
    old_done = Job.objects.create(
        user=trader,
        kind="exchange_test_connection",
        title="old",
        status=JobStatus.SUCCEEDED,
        finished_at=now - timedelta(days=settings.JOB_RETENTION_DAYS, minutes=1),
    )
    recent_done = Job.objects.create(
        user=trader,
        kind="exchange_test_connection",
        title="recent",
        status=JobStatus.FAILED,
        finished_at=now - timedelta(days=1),
    )
    abandoned = Job.objects.create(
        user=trader,
        kind="exchange_sync",
        title="abandoned",
        status=JobStatus.RUNNING,
        started_at=now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60),
    )
    running = Job.objects.create(
        user=trader,
        kind="exchange_sync",
        title="running",
        status=JobStatus.RUNNING,
        started_at=now - timedelta(seconds=5),
    )

    tidied = jobs_tidy(now=now)

    assert (tidied.failed_unstarted, tidied.failed_abandoned, tidied.deleted) == (0, 1, 1)
    assert not Job.objects.filter(pk=old_done.pk).exists() and Job.objects.filter(pk=recent_done.pk).exists()
    abandoned.refresh_from_db()
    assert abandoned.status == "failed" and abandoned.message.startswith("The worker running this stopped")
    assert Job.objects.get(pk=running.pk).status == "running"


# --- API docs --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, job_component, result_component",
    [
        ("/api/v1/exchange-accounts/{id}/test-connection/", "ConnectionCheckJob", "ConnectionCheck"),
        ("/api/v1/telegram/test/", "TelegramTestJob", "TelegramTestResult"),
        ("/api/v1/queue/{id}/promote/", "QueuePromoteJob", "QueuePromoteResult"),
        ("/api/v1/risk/sync-exchange/", "ExchangeSyncJob", "ExchangeSync"),
        ("/api/v1/risk/run-evaluation/", "RiskEvaluationJob", "Evaluation"),
    ],
)
def test_the_api_docs_describe_the_job_each_operation_starts(path, job_component, result_component):
    schema = SchemaGenerator().get_schema(request=None, public=True)

    responses = schema["paths"][path]["post"]["responses"]
    assert set(responses) >= {"202", "503"} and "200" not in responses
    assert responses["202"]["content"]["application/json"]["schema"] == {
        "$ref": f"#/components/schemas/{job_component}"
    }
    job = schema["components"]["schemas"][job_component]["properties"]
    assert {"id", "kind", "status", "message", "result", "url"} <= set(job)
    assert f"#/components/schemas/{result_component}" in json.dumps(job["result"])
    poll = schema["paths"]["/api/v1/jobs/{id}/"]["get"]
    assert poll["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Job"}
