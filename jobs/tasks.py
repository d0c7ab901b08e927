"""Celery tasks of the jobs app: thin wrappers around ``jobs.services``."""

from celery import shared_task


@shared_task(ignore_result=True)
def run_job_task(job_id: str) -> None:
    """Run one job a trader asked for; its outcome is stored on the job. Not retried: the trader sees
    the failure and asks again."""
    from jobs.services import job_run

    job_run(job_id=job_id)


@shared_task(ignore_result=True)
def jobs_tidy_task() -> None:
    """Beat: fail jobs no worker started in time or whose worker died, delete old finished ones."""
    from jobs.services import jobs_tidy

    jobs_tidy()
