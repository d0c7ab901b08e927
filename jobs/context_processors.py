"""The job a page was asked to show (``?job=<id>`` after a button started one), for ``base.html``."""

import uuid

from jobs.selectors import jobs_of


def requested_job(request) -> dict:
    raw = request.GET.get("job") if request.method == "GET" else None
    if not raw or not request.user.is_authenticated:
        return {}
    try:
        job_id = uuid.UUID(raw)
    except ValueError:
        return {}
    return {"requested_job": jobs_of(request.user).filter(pk=job_id).first()}
