"""The Telegram API: the trader's configuration, and a test message sent now."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications.api.serializers import TelegramConfigSerializer, TelegramTestResultSerializer
from notifications.models import TelegramConfig
from notifications.services import telegram_test_send


def _config(user) -> TelegramConfig:
    config, _ = TelegramConfig.objects.get_or_create(user=user)
    return config


class TelegramConfigView(APIView):
    """Where and what to broadcast on Telegram (one per trader); the bot token is write-only."""

    @extend_schema(responses=TelegramConfigSerializer)
    def get(self, request):
        return Response(TelegramConfigSerializer(_config(request.user)).data)

    @extend_schema(request=TelegramConfigSerializer, responses=TelegramConfigSerializer)
    def put(self, request):
        return self._update(request, partial=False)

    @extend_schema(request=TelegramConfigSerializer(partial=True), responses=TelegramConfigSerializer)
    def patch(self, request):
        return self._update(request, partial=True)

    def _update(self, request, *, partial: bool):
        data = TelegramConfigSerializer(_config(request.user), data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        config = data.save()
        return Response(TelegramConfigSerializer(config).data)


class TelegramTestView(APIView):
    """Send a test message to the configured chat now and report Telegram's answer."""

    @extend_schema(request=None, responses=TelegramTestResultSerializer)
    def post(self, request):
        result = telegram_test_send(config=_config(request.user))
        body = {"ok": result.ok, "status_code": result.status_code, "description": result.description,
                "message_id": result.message_id}
        # 200 either way: the request worked; `ok` and `description` say what Telegram answered.
        return Response(TelegramTestResultSerializer(body).data)
