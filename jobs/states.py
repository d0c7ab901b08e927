"""The state machine of a background job: statuses and the moves allowed between them.

Pure: no ORM. ``jobs.services.job_transition`` applies a move to a row; nothing else assigns a status.
"""

from enum import StrEnum


class JobStatus(StrEnum):
    QUEUED = "queued"  # stored and handed to the broker, no worker has started it
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


J = JobStatus

JOB_MOVES: dict[JobStatus, frozenset[JobStatus]] = {
    # Failed without running: the broker refused it, or no worker started it in time.
    J.QUEUED: frozenset({J.RUNNING, J.FAILED}),
    # Running again: a worker killed mid-job hands the task back to the broker (acks_late), and the
    # next worker starts it over; every job kind is safe to run twice.
    J.RUNNING: frozenset({J.RUNNING, J.SUCCEEDED, J.FAILED}),
    J.SUCCEEDED: frozenset(),
    J.FAILED: frozenset(),
}

JOB_FINISHED_STATUSES = frozenset({J.SUCCEEDED, J.FAILED})
# Django field choices ("queued", "Queued"); also the API schema's JobStatusEnum (ENUM_NAME_OVERRIDES).
JOB_STATUS_CHOICES = [(status.value, status.value.capitalize()) for status in JobStatus]


class IllegalJobMove(Exception):
    def __init__(self, current: str, to: str):
        super().__init__(f"job cannot move from '{current}' to '{to}'")
        self.current, self.to = current, to


def check_job_move(current: str, to: str) -> None:
    if JobStatus(to) not in JOB_MOVES[JobStatus(current)]:
        raise IllegalJobMove(current, to)
