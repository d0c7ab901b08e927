"""A real Celery worker and beat, on the test PostgreSQL and Redis, run the project's tasks."""

import pytest
from django.conf import settings

from tests.processes import beat_command, process_env, running, wait_until, worker_command
from trading.models import EngineHeartbeat
from trading.tasks import heartbeat_task

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_real_worker_runs_a_task_sent_through_redis(tmp_path):
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    log = tmp_path / "worker.log"
    with running(worker_command(), log, process_env()):
        heartbeat_task.delay()

        seen = wait_until(
            lambda: EngineHeartbeat.objects.filter(name="worker").first(),
            timeout=60,
            what="the worker to run heartbeat_task",
            log=log,
        )

    assert seen.seen_at is not None
    assert "Task trading.tasks.heartbeat_task" in log.read_text()


def test_beat_schedules_the_heartbeat_from_the_database_scheduler(tmp_path):
    from django_celery_beat.models import PeriodicTask

    env = process_env(HEARTBEAT_INTERVAL_SECONDS="1")
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    with running(worker_command(), worker_log, env), running(beat_command(tmp_path), beat_log, env):
        wait_until(
            lambda: EngineHeartbeat.objects.filter(name="beat").exists(),
            timeout=90,
            what="beat to schedule heartbeat_task",
            log=beat_log,
        )

    # DatabaseScheduler copied the schedule declared in code into the database (editable in admin).
    assert PeriodicTask.objects.filter(task="trading.tasks.heartbeat_task").exists()
