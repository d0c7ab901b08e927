"""Background jobs a trader asked for from a page or the API: an exchange or Telegram call that a web
request must not wait for (a slow exchange would hold the web workers the webhook needs)."""

import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from jobs.states import JOB_FINISHED_STATUSES, JOB_STATUS_CHOICES, JobStatus


class Job(models.Model):
    """One request to do something in the background and what came of it.

    ``kind`` names the work (each app registers its kinds in ``<app>/job_kinds.py``), ``subject_id``
    the record it is about (an exchange account, a queue entry), ``title`` says it in words. When it
    ends, ``message`` is the sentence shown to the trader and ``result`` the API's answer for that
    kind; both are written by the kind's runner from already-cleaned texts (no keys, no signed URLs).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=40)
    subject_id = models.CharField(max_length=64, blank=True)
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=12, choices=JOB_STATUS_CHOICES, default=JobStatus.QUEUED.value)
    message = models.TextField(blank=True)
    result = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "-created_at"], name="job_user_recent"),
            # The housekeeping sweep: unfinished jobs by age, finished ones by when they ended.
            models.Index(fields=["status", "created_at"], name="job_status_age"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in JOB_FINISHED_STATUSES
