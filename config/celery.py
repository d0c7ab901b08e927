"""The Celery app: configured from Django settings (namespace CELERY), tasks autodiscovered.

A worker or beat adds logging handlers of its own after Django's (the task logger's, the
multiprocessing logger's); once it has, every handler gets the secret-scrubbing filter too
(config/log_filters.py), so a task's traceback never prints a signed URL or an API key.
"""

import os

from celery import Celery, signals

from config.log_filters import install_everywhere

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("engine")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def scrub_secrets_in_celery_logs(**kwargs) -> None:
    install_everywhere()
