"""The shape of a job in the API: what was asked, where it stands, and what came of it."""

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from jobs.models import Job


class JobSerializer(serializers.ModelSerializer):
    """A background job: poll ``url`` until ``status`` is succeeded or failed."""

    url = serializers.SerializerMethodField(help_text="Where to poll this job: GET it until it has finished.")
    result = serializers.SerializerMethodField(
        help_text="The answer of the work once finished (null before): its shape is the one documented for the "
        "operation that started the job."
    )

    class Meta:
        model = Job
        fields = (
            "id",
            "kind",
            "title",
            "status",
            "message",
            "result",
            "url",
            "created_at",
            "started_at",
            "finished_at",
        )
        read_only_fields = fields
        extra_kwargs = {
            "kind": {
                "help_text": "What the job does: exchange_test_connection, exchange_balance_refresh, "
                "telegram_test, queue_promote, exchange_sync or risk_evaluation."
            },
            "status": {"help_text": "queued (waiting for a worker), running, succeeded or failed."},
            "message": {"help_text": "The outcome in one sentence, as the dashboard shows it (empty until finished)."},
        }

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, job: Job) -> str:
        path = reverse("job-detail", args=[job.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_result(self, job: Job):
        return job.result


def job_serializer_for(result_serializer: type[serializers.Serializer], name: str) -> type[JobSerializer]:
    """``JobSerializer`` with ``result`` documented as ``result_serializer``: the 202 answer of an operation
    that starts a job of one kind, so the schema tells a script what the finished job will carry."""

    class KindJobSerializer(JobSerializer):
        @extend_schema_field(result_serializer(allow_null=True))
        def get_result(self, job: Job):
            return job.result

    KindJobSerializer.__name__ = KindJobSerializer.__qualname__ = name
    return KindJobSerializer
