"""Production refuses to start on throwaway keys; the embedded default needs no server of the user's."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_django(env_overrides: dict, tmp_path) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "DATABASE_URL", "REDIS_URL")
    }
    env.update({"VAR_DIR": str(tmp_path), **env_overrides})
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DATABASES['default']['ENGINE'], settings.DATABASES['default']['HOST'], "
        "settings.CELERY_BROKER_URL, settings.CELERY_BROKER_TRANSPORT)"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)


def test_production_without_secret_key_refuses_to_start(tmp_path):
    result = run_django({"DJANGO_ENV": "production"}, tmp_path)

    assert result.returncode != 0
    assert "SECRET_KEY must be set when DJANGO_ENV=production" in result.stderr


def test_development_defaults_to_the_embedded_postgresql_and_a_serverless_broker_with_generated_keys(tmp_path):
    result = run_django({}, tmp_path)

    assert result.returncode == 0, result.stderr
    # The socket of the embedded server under VAR_DIR (config/embedded_db.py), whether or not it is up yet.
    assert result.stdout.split() == [
        "django.db.backends.postgresql",
        str(tmp_path / "postgres"),
        "filesystem://",
        "config.broker:Transport",
    ]
    assert (tmp_path / "secret_key").exists() and (tmp_path / "fernet.key").exists()
    assert oct((tmp_path / "fernet.key").stat().st_mode)[-3:] == "600"


def test_every_periodic_task_beat_sends_expires_before_its_next_run(transactional_db):
    """With the workers down, beat's messages must expire instead of piling up in the broker."""
    from django.conf import settings
    from django_celery_beat.models import PeriodicTask
    from django_celery_beat.schedulers import DatabaseScheduler

    from config.celery import app

    scheduler = DatabaseScheduler(app=app)  # copies the schedule declared in settings into the database

    for name, declared in settings.CELERY_BEAT_SCHEDULE.items():
        interval = declared["schedule"].run_every.total_seconds()
        stored = PeriodicTask.objects.get(name=name)
        assert stored.expire_seconds and stored.expire_seconds <= max(1, interval * 0.9), name
        assert scheduler.schedule[name].options["expires"] == stored.expire_seconds, name
