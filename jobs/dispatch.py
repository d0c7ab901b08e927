"""The enqueue of a job's task (the only module that knows the jobs app's task objects, looked up by name in
Celery's registry: ``jobs.tasks`` imports the services that call this module).

Call after the job row committed (``transaction.on_commit``). Never raises: says whether the broker
took it, so the caller can fail the job at once instead of leaving it queued.
"""

import logging

from core.dispatch import task

logger = logging.getLogger(__name__)

# The task's registered name (jobs/tasks.py, imported by JobsConfig.ready()).
RUN_JOB = "jobs.tasks.run_job_task"


def run_job(job_id) -> bool:
    try:
        task(RUN_JOB).delay(str(job_id))
    except Exception as exc:  # any broker failure: the job is failed by the caller, the trader told
        logger.error("could not enqueue job %s (%s: %s)", job_id, type(exc).__name__, exc)
        return False
    return True
