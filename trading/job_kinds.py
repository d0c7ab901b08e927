"""Background jobs of the trading app: a trader's manual promote of a queued entry, which routes the
signal (the exchange's market list, then the grid) and so must not run inside a web request."""

from exchanges.connector import ExchangeError
from jobs.models import Job
from jobs.registry import JobOutcome, job_kind
from jobs.services import job_request
from trading.errors import QueueEntryNotQueued
from trading.job_results import QueuePromoteResultSerializer
from trading.models import QueuedSignal, RiskConfig, Signal
from trading.services.promotion import queue_promote

QUEUE_PROMOTE = "queue_promote"
OPENED = (Signal.Status.OPENED, Signal.Status.PYRAMIDED)


def queue_promote_request(*, entry: QueuedSignal) -> Job:
    """The trader's promote (page and API), run in the background. Raises ``QueueEntryNotQueued`` for an
    entry that has left the queue."""
    if entry.status != QueuedSignal.Status.QUEUED:
        raise QueueEntryNotQueued(entry)
    return job_request(user=entry.user, kind=QUEUE_PROMOTE, subject_id=entry.pk, title=f"Promote {entry.label}")


@job_kind(QUEUE_PROMOTE)
def queue_promote_run(job: Job) -> JobOutcome:
    entry = QueuedSignal.objects.filter(user=job.user, pk=job.subject_id).first()
    if entry is None:
        return JobOutcome(ok=False, message="The queue entry no longer exists.")
    label = entry.label
    if entry.status != QueuedSignal.Status.QUEUED:  # promoted, expired or removed since the click
        return JobOutcome(ok=False, message=str(QueueEntryNotQueued(entry)))
    try:
        signal = queue_promote(entry=entry)
    except ExchangeError as exc:  # the connector's text: already cleaned of keys and signed URLs
        return JobOutcome(ok=False, message=f"The exchange did not answer ({exc}); {label} stays queued: try again.")
    entry.refresh_from_db()
    reason = signal.reason
    force_stopped = RiskConfig.objects.filter(user=job.user, engine_force_stopped=True).exists()
    if signal.status in OPENED:
        message = f"{label} promoted: {signal.get_status_display().lower()}. {signal.reason}"
    elif signal.status == Signal.Status.QUEUED and force_stopped:
        # Routing leaves the signal's queueing reason as it was; say why the promote did not open it.
        reason = (
            "Still queued: the engine is force-stopped. Start it (Overview page, or POST "
            "/api/v1/risk/force-start/) and promote again."
        )
        message = f"{label} is still queued: the engine is force-stopped. Start it and promote again."
    elif signal.status == Signal.Status.QUEUED:
        message = f"{label} is still queued: {signal.reason}"
    else:
        message = f"{label} was not opened ({signal.get_status_display().lower()}): {signal.reason}"
    body = {
        "signal_id": signal.pk,
        "status": signal.status,
        "reason": reason,
        "queue_status": entry.status,
        "position_group": signal.position_group_id if signal.status in OPENED else None,
    }
    return JobOutcome(ok=signal.status in OPENED, message=message, result=dict(QueuePromoteResultSerializer(body).data))
