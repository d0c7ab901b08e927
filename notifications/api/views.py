"""The Telegram API: the trader's configuration, and a test message sent in the background."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.serializers import ErrorSerializer
from jobs.api.serializers import job_serializer_for
from jobs.api.views import job_accepted, job_responses
from notifications.api.serializers import TelegramConfigSerializer
from notifications.job_kinds import TelegramNotConfigured, telegram_test_request
from notifications.job_results import TelegramTestResultSerializer
from notifications.selectors import telegram_config_of

TelegramTestJobSerializer = job_serializer_for(TelegramTestResultSerializer, "TelegramTestJob")


class TelegramConfigView(APIView):
    """Where and what to broadcast on Telegram (one per trader); the bot token is write-only."""

    @extend_schema(responses=TelegramConfigSerializer)
    def get(self, request):
        return Response(TelegramConfigSerializer(telegram_config_of(request.user)).data)

    @extend_schema(request=TelegramConfigSerializer, responses=TelegramConfigSerializer)
    def put(self, request):
        return self._update(request, partial=False)

    @extend_schema(request=TelegramConfigSerializer(partial=True), responses=TelegramConfigSerializer)
    def patch(self, request):
        return self._update(request, partial=True)

    def _update(self, request, *, partial: bool):
        data = TelegramConfigSerializer(telegram_config_of(request.user), data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        config = data.save()
        return Response(TelegramConfigSerializer(config).data)


class TelegramTestView(APIView):
    """Send a test message to the configured chat and report Telegram's answer."""

    @extend_schema(
        request=None,
        responses={
            **job_responses(TelegramTestJobSerializer),
            409: OpenApiResponse(
                ErrorSerializer, description="No bot token or channel id saved yet: nothing was sent."
            ),
        },
        description="Send a test message to the saved chat, in the background: the answer is a job to poll, whose "
        "`result` is Telegram's answer (`ok`, `description`; the job ends `failed` when Telegram refused it).",
    )
    def post(self, request):
        try:
            job = telegram_test_request(config=telegram_config_of(request.user))
        except TelegramNotConfigured as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return job_accepted(request, job, TelegramTestJobSerializer)
