"""Background jobs: request one, run it in a worker, and tidy up.

A page or API view calls ``job_request`` (a row, then the task after commit) and answers at once;
the worker's ``run_job_task`` calls ``job_run``, which runs the kind's registered runner outside any
transaction (runners call exchanges and Telegram) and stores what it reported. Statuses change only
through ``job_transition`` (``jobs.states``), a conditional UPDATE, so a job the housekeeping sweep
failed is never run afterwards, and one a worker already finished is not run twice.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from jobs import dispatch
from jobs.models import Job
from jobs.registry import JobOutcome, runner_for
from jobs.states import IllegalJobMove, JobStatus, check_job_move

logger = logging.getLogger(__name__)

BROKER_DOWN = "The background queue could not be reached, so nothing was done: try again in a moment."
UNEXPECTED = (
    "The server hit an unexpected error while doing this (the details are in the server log). "
    "Check the outcome before trying again."
)
# A worker's hard time limit kills a job that overruns it; past it (and a margin for the kill and the
# broker's redelivery) a job still 'running' has no worker left.
RUNNING_GRACE_SECONDS = 30


class StaleJob(IllegalJobMove):
    """The job's status changed in the database since it was read."""


def job_transition(job: Job, *, to: JobStatus, **fields) -> Job:
    """Move ``job`` to ``to`` (writing ``fields`` in the same UPDATE); refuses a move ``jobs.states`` forbids."""
    current = job.status
    check_job_move(current, to)
    changes = {"status": to.value, **fields}
    if not Job.objects.filter(pk=job.pk, status=current).update(**changes):
        raise StaleJob(current, to)
    for field, value in changes.items():
        setattr(job, field, value)
    logger.info("job %s (%s): %s -> %s", job.pk, job.kind, current, to)
    return job


def job_request(*, user, kind: str, title: str, subject_id="") -> Job:
    """Store a job for ``user`` and hand it to a worker after commit; returns it (queued, or failed when
    the broker could not take it)."""
    if runner_for(kind) is None:
        raise ValueError(f"unknown job kind {kind!r}")
    with transaction.atomic():
        job = Job.objects.create(user=user, kind=kind, title=title[:200], subject_id=str(subject_id))
        transaction.on_commit(partial(_hand_over, job))
    return job


def _hand_over(job: Job) -> None:
    if not dispatch.run_job(job.pk):
        try:
            job_transition(job, to=JobStatus.FAILED, message=BROKER_DOWN, finished_at=timezone.now())
        except StaleJob:  # an eager test worker already ran it
            pass


def job_run(*, job_id) -> Job | None:
    """Run one job (the worker's task). A job already finished, failed by the sweep or deleted is left
    alone. Exchange and Telegram I/O: call outside a transaction."""
    job = Job.objects.select_related("user").filter(pk=job_id).first()
    if job is None:
        logger.info("job %s is gone (pruned): nothing to run", job_id)
        return None
    try:
        job_transition(job, to=JobStatus.RUNNING, started_at=timezone.now())
    except IllegalJobMove:  # StaleJob included: another worker or the sweep got there first
        job.refresh_from_db(fields=["status"])
        logger.info("job %s is %s: not run", job.pk, job.status)
        return job
    outcome = _outcome(job)
    try:
        job_transition(
            job,
            to=JobStatus.SUCCEEDED if outcome.ok else JobStatus.FAILED,
            message=outcome.message,
            result=outcome.result,
            finished_at=timezone.now(),
        )
    except StaleJob:
        logger.warning(
            "job %s was failed by the housekeeping sweep while it ran; its outcome: %s", job.pk, outcome.message
        )
    return job


def _outcome(job: Job) -> JobOutcome:
    runner = runner_for(job.kind)
    if runner is None:
        logger.error("job %s has kind %r, which no app registers", job.pk, job.kind)
        return JobOutcome(ok=False, message=UNEXPECTED)
    try:
        return runner(job)
    except SoftTimeLimitExceeded:
        return JobOutcome(
            ok=False,
            message=(
                f"This took longer than {settings.CELERY_TASK_SOFT_TIME_LIMIT} s and was stopped: the exchange (or "
                f"Telegram) is slow right now. Try again later."
            ),
        )
    except Exception:
        logger.exception("job %s (%s) failed", job.pk, job.kind)
        return JobOutcome(ok=False, message=UNEXPECTED)


@dataclass(frozen=True)
class Tidied:
    failed_unstarted: int
    failed_abandoned: int
    deleted: int


def jobs_tidy(*, now: datetime | None = None) -> Tidied:
    """The housekeeping beat: fail jobs no worker started in ``JOB_START_TIMEOUT_SECONDS`` (they will not
    run late: the trader has been told), fail jobs whose worker died mid-run, delete finished jobs older
    than ``JOB_RETENTION_DAYS``."""
    now = now or timezone.now()
    unstarted = Job.objects.filter(
        status=JobStatus.QUEUED, created_at__lt=now - timedelta(seconds=settings.JOB_START_TIMEOUT_SECONDS)
    )
    failed_unstarted = _fail_all(
        unstarted,
        now,
        (
            f"No worker started this within {settings.JOB_START_TIMEOUT_SECONDS} s, so it was dropped and nothing "
            "was done: check that the engine's worker is running, then try again."
        ),
    )
    abandoned = Job.objects.filter(
        status=JobStatus.RUNNING,
        started_at__lt=now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + RUNNING_GRACE_SECONDS),
    )
    failed_abandoned = _fail_all(
        abandoned,
        now,
        (
            "The worker running this stopped before it finished. Check the outcome (the account, the queue, the "
            "positions) before trying again."
        ),
    )
    deleted, _ = Job.objects.filter(
        status__in=[JobStatus.SUCCEEDED, JobStatus.FAILED],
        finished_at__lt=now - timedelta(days=settings.JOB_RETENTION_DAYS),
    ).delete()
    return Tidied(failed_unstarted, failed_abandoned, deleted)


def _fail_all(jobs, now: datetime, message: str) -> int:
    failed = 0
    for job in jobs.only("pk", "kind", "status"):
        try:
            job_transition(job, to=JobStatus.FAILED, message=message, finished_at=now)
        except StaleJob:  # a worker started or finished it meanwhile
            continue
        failed += 1
    return failed
