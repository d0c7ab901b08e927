"""The risk API: the trader's risk configuration and the engine's force-stop switch.

Thin views: each reads the user's row or calls one service in ``risk.services``.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from risk.api.serializers import EngineStateSerializer, RiskConfigSerializer
from risk.models import RiskConfig
from risk.services import engine_force_start, engine_force_stop, risk_config_update
from trading.api.serializers import drf_errors


class RiskConfigView(APIView):
    """The trader's execution pool limits, queue and risk engine settings (one per trader)."""

    @extend_schema(responses=RiskConfigSerializer)
    def get(self, request):
        risk, _ = RiskConfig.objects.get_or_create(user=request.user)
        return Response(RiskConfigSerializer(risk).data)

    @extend_schema(request=RiskConfigSerializer, responses=RiskConfigSerializer)
    def put(self, request):
        return self._update(request, partial=False)

    @extend_schema(request=RiskConfigSerializer(partial=True), responses=RiskConfigSerializer)
    def patch(self, request):
        return self._update(request, partial=True)

    def _update(self, request, *, partial: bool):
        risk, _ = RiskConfig.objects.get_or_create(user=request.user)
        data = RiskConfigSerializer(risk, data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        try:
            risk = risk_config_update(user=request.user, changes=data.validated_data)
        except DjangoValidationError as exc:
            raise ValidationError(drf_errors(exc)) from None
        return Response(RiskConfigSerializer(risk).data)


def engine_state(risk: RiskConfig) -> dict:
    if risk.engine_force_stopped:
        message = "Force-stopped: new entries are queued until you start the engine; open positions carry on."
    elif risk.engine_paused_by_loss_limit:
        message = ("Started, but new entries stay paused by the daily loss limit (max_realized_loss_usd) until "
                   "tomorrow, or until you raise the limit.")
    else:
        message = "Running: new entries open when a pool slot is free."
    return {"engine_force_stopped": risk.engine_force_stopped,
            "engine_paused_by_loss_limit": risk.engine_paused_by_loss_limit, "message": message}


class EngineForceStopView(APIView):
    """Stop new entries (they queue); open positions, exits and the risk engine carry on."""

    @extend_schema(request=None, responses=EngineStateSerializer)
    def post(self, request):
        return Response(EngineStateSerializer(engine_state(engine_force_stop(user=request.user))).data)


class EngineForceStartView(APIView):
    """Let new entries through again; the waiting queue is promoted at once."""

    @extend_schema(request=None, responses=EngineStateSerializer)
    def post(self, request):
        return Response(EngineStateSerializer(engine_state(engine_force_start(user=request.user))).data)
