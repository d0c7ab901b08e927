"""The enqueue of a job's task (the only module that knows the jobs app's task objects).

Call after the job row committed (``transaction.on_commit``). Never raises: says whether the broker
took it, so the caller can fail the job at once instead of leaving it queued.
"""

import logging

logger = logging.getLogger(__name__)


def run_job(job_id) -> bool:
    from jobs.tasks import run_job_task

    try:
        run_job_task.delay(str(job_id))
    except Exception as exc:  # any broker failure: the job is failed by the caller, the trader told
        logger.error("could not enqueue job %s (%s: %s)", job_id, type(exc).__name__, exc)
        return False
    return True
