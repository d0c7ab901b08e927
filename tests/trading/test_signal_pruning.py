"""Refused webhook requests are kept REJECTED_SIGNAL_RETENTION_DAYS, then beat deletes them; the
trader's accepted alerts, and accepted alerts that routing refused, are never pruned."""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from config.celery import app
from tests.factories import UserFactory
from trading.models import Signal, WebhookRejectionTally
from trading.services.signals import signal_reject, webhook_rejection_count
from trading.tasks import prune_refused_signals_task

pytestmark = pytest.mark.django_db


def aged(signal: Signal, days: float) -> Signal:
    Signal.objects.filter(pk=signal.pk).update(received_at=timezone.now() - timedelta(days=days))
    return signal


def refused(user, days: float) -> Signal:
    return aged(
        signal_reject(
            user=user,
            client_ip="198.51.100.7",
            http_status=400,
            reason="Body is empty.",
            payload={"raw": "", "raw_bytes": 0, "truncated": False},
        ),
        days,
    )


def test_beat_prunes_refused_requests_older_than_the_retention_and_nothing_else(user):
    old_refusals = [refused(user, days=31), refused(UserFactory(), days=45)]
    recent_refusal = refused(user, days=29)
    old_accepted = aged(Signal.objects.create(user=user, status=Signal.Status.OPENED, http_status=202), days=90)
    old_routing_refusal = aged(
        Signal.objects.create(
            user=user,
            status=Signal.Status.REJECTED,
            http_status=202,
            reason="No DCA configuration for BTC/USDT 15m on binance",
        ),
        days=90,
    )
    webhook_rejection_count(network="2001:db8:1:2::/64", http_status=403, reason="Unknown user 'x' in the URL.")
    WebhookRejectionTally.objects.update(hour=timezone.now() - timedelta(days=31))
    webhook_rejection_count(network="203.0.113.9", http_status=400, reason="Body is empty.")

    prune_refused_signals_task()

    assert not Signal.objects.filter(pk__in=[signal.pk for signal in old_refusals]).exists()
    assert set(Signal.objects.values_list("pk", flat=True)) == {
        recent_refusal.pk,
        old_accepted.pk,
        old_routing_refusal.pk,
    }
    assert list(WebhookRejectionTally.objects.values_list("network", flat=True)) == ["203.0.113.9"]


def test_the_retention_is_a_setting_and_0_keeps_everything(user, settings):
    kept = refused(user, days=400)
    settings.REJECTED_SIGNAL_RETENTION_DAYS = 0
    prune_refused_signals_task()
    assert Signal.objects.filter(pk=kept.pk).exists()

    settings.REJECTED_SIGNAL_RETENTION_DAYS = 7
    pruned, recent = refused(user, days=8), refused(user, days=6)
    prune_refused_signals_task()
    assert set(Signal.objects.values_list("pk", flat=True)) == {recent.pk}
    assert not Signal.objects.filter(pk=pruned.pk).exists()


def test_the_prune_task_is_on_beats_schedule():
    entry = django_settings.CELERY_BEAT_SCHEDULE["prune-refused-signals"]

    assert entry["task"] == "trading.tasks.prune_refused_signals_task"
    assert entry["task"] in app.tasks
    assert entry["schedule"].run_every == timedelta(hours=1)
    assert django_settings.REJECTED_SIGNAL_RETENTION_DAYS == 30
