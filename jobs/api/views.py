"""Polling a job, and the answer every operation that starts one gives."""

from drf_spectacular.utils import OpenApiResponse
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response

from jobs.api.serializers import JobSerializer
from jobs.models import Job
from jobs.selectors import jobs_of
from jobs.states import JobStatus


class JobViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """A background job you started (test connection, Telegram test, promote, exchange sync, risk
    evaluation): its status, and its outcome once finished. Another trader's job answers 404."""

    serializer_class = JobSerializer
    queryset = Job.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        return jobs_of(self.request.user)


def job_responses(serializer) -> dict:
    """The documented answers of an operation that starts a job whose answer is ``serializer``."""
    return {
        202: OpenApiResponse(
            serializer,
            description="Accepted: the work runs in the background. Poll `url` "
            "(GET /api/v1/jobs/{id}/) until `status` is succeeded or failed; `result` then "
            "carries the answer.",
        ),
        503: OpenApiResponse(
            serializer,
            description="The background queue was unreachable: the job failed at once and nothing was done. Try again.",
        ),
    }


def job_accepted(request, job: Job, serializer=JobSerializer) -> Response:
    """202 with the job and its poll URL (also in ``Location``); 503 when the broker refused it."""
    job.refresh_from_db()
    body = serializer(job, context={"request": request}).data
    if job.status == JobStatus.FAILED and job.started_at is None:
        return Response(body, status=status.HTTP_503_SERVICE_UNAVAILABLE)
    return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})
