"""The risk API: configuration, the engine's force-stop switch, the engine's status and a manual
evaluation, per-position controls (block, unblock, skip once), an exchange sync, and the record.

Thin views: each reads through ``risk.selectors`` or calls one service (``risk.services``). The
evaluation and the exchange sync read the exchange, so they start a background job
(``risk.job_kinds``) and answer 202 with it. Every position is looked up among the requesting
user's own, so another user's id answers 404 and changes nothing.
"""

import uuid
from collections.abc import Callable

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.serializers import ErrorSerializer, drf_errors
from exchanges.connector import ExchangeError
from jobs.api.serializers import job_serializer_for
from jobs.api.views import job_accepted, job_responses
from risk.api.serializers import (
    EngineStateSerializer,
    GroupRiskSerializer,
    RiskActionSerializer,
    RiskConfigSerializer,
    RiskStatusSerializer,
)
from risk.job_kinds import exchange_sync_request, risk_evaluation_request
from risk.job_results import EvaluationSerializer, ExchangeSyncSerializer, loser_body
from risk.selectors import RiskStatus, engine_state, risk_actions, risk_status
from risk.services import (
    engine_force_start,
    engine_force_stop,
    group_block,
    group_skip_once,
    group_unblock,
    risk_config_update,
)
from trading.models import JournalEntry, PositionGroup
from trading.selectors import groups_of, risk_config_of

EvaluationJobSerializer = job_serializer_for(EvaluationSerializer, "RiskEvaluationJob")
ExchangeSyncJobSerializer = job_serializer_for(ExchangeSyncSerializer, "ExchangeSyncJob")


class RiskConfigView(APIView):
    """The trader's execution pool limits, queue and risk engine settings (one per trader)."""

    @extend_schema(responses=RiskConfigSerializer)
    def get(self, request):
        return Response(RiskConfigSerializer(risk_config_of(request.user)).data)

    @extend_schema(request=RiskConfigSerializer, responses=RiskConfigSerializer)
    def put(self, request):
        return self._update(request, partial=False)

    @extend_schema(request=RiskConfigSerializer(partial=True), responses=RiskConfigSerializer)
    def patch(self, request):
        return self._update(request, partial=True)

    def _update(self, request, *, partial: bool):
        data = RiskConfigSerializer(risk_config_of(request.user), data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        try:
            risk = risk_config_update(user=request.user, changes=data.validated_data)
        except DjangoValidationError as exc:
            raise ValidationError(drf_errors(exc)) from None
        return Response(RiskConfigSerializer(risk).data)


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


# --- Status and evaluation ---------------------------------------------------------------------------

MARKETS_NOT_LOADED = {
    503: OpenApiResponse(
        ErrorSerializer,
        description="A winner's market list (lot size, minimums) is not on this "
        "server yet: a request never downloads it from the exchange (a worker does, with the next "
        "evaluation). Try again in a minute.",
    ),
}


def _preview_unavailable(exc: ExchangeError) -> Response:
    return Response({"detail": f"The offset preview is unavailable: {exc}"}, status=status.HTTP_503_SERVICE_UNAVAILABLE)


def _status_body(report: RiskStatus) -> dict:
    risk, plan = report.risk, report.plan
    engine = {
        **engine_state(risk),
        "realized_loss_today_usd": report.realized_loss_today_usd,
        "max_realized_loss_usd": risk.max_realized_loss_usd,
        "loss_threshold_percent": risk.loss_threshold_percent,
        "required_pyramids_for_timer": risk.required_pyramids_for_timer,
        "post_pyramids_wait_minutes": risk.post_pyramids_wait_minutes,
        "max_winners_to_combine": risk.max_winners_to_combine,
        "allow_partial_offset": risk.allow_partial_offset,
        "last_evaluated_at": risk.last_evaluated_at,
    }
    winners = [
        {
            "id": w.group.pk,
            "symbol": w.group.symbol,
            "side": w.group.side,
            "unrealized_pnl_usd": w.group.unrealized_pnl_usd,
            "quantity": w.close.quantity,
            "profit_usd": w.close.profit_usd,
            "price": w.close.price,
        }
        for w in report.winners
    ]
    return {
        "as_of": report.as_of,
        "engine": engine,
        "loser": {
            **loser_body(report.loser, plan.required_usd),
            "unrealized_pnl_usd": report.loser.unrealized_pnl_usd,
            "unrealized_pnl_percent": report.loser.unrealized_pnl_percent,
        }
        if report.loser is not None and plan is not None
        else None,  # a loser always comes with its plan
        "winners": winners,
        "covered_usd": plan.covered_usd if plan else 0,
        "covers_loss": bool(plan and plan.fully_covered),
        "would_execute": report.would_execute,
        "reason": report.reason,
        "positions": report.positions,
    }


class RiskStatusView(APIView):
    """The risk engine's picture now: engine state, the loser and the offset an evaluation would make, and
    every open position's timer and eligibility. Reading it changes nothing."""

    @extend_schema(
        responses={200: RiskStatusSerializer, **MARKETS_NOT_LOADED},
        description="The risk engine's picture now; reading it changes nothing. "
        "Timers are stepped in memory to now, as an evaluation would step them first, so "
        "`eligible`/`reason` and the loser are what an evaluation now would see; `risk_timer_*` and "
        "`risk_eligible` are the stored values and `pending_timer_event` says what would change.",
    )
    def get(self, request):
        try:
            report = risk_status(user=request.user)
        except ExchangeError as exc:
            return _preview_unavailable(exc)
        return Response(RiskStatusSerializer(_status_body(report)).data)


class RunEvaluationView(APIView):
    """Run one risk evaluation now, as the beat schedule would: step the timers, then close the loser and
    reduce the winners when they cover its loss (the closes run in the worker)."""

    @extend_schema(
        request=None,
        responses=job_responses(EvaluationJobSerializer),
        description="Start one risk evaluation now, as the beat schedule would: step the timers, then "
        "close the loser and reduce the winners when they cover its loss. It reads the winners' markets "
        "from the exchange, so it runs in the background: the answer is a job to poll, whose `result` is "
        "the evaluation (or which fails, changing nothing, when a market could not be read).",
    )
    def post(self, request):
        return job_accepted(request, risk_evaluation_request(user=request.user), EvaluationJobSerializer)


# --- Per-position controls ---------------------------------------------------------------------------

NOT_OPEN = {409: OpenApiResponse(ErrorSerializer, description="The position is closed or failed.")}


class _GroupControlView(APIView):
    service: Callable[..., PositionGroup] | None = None  # risk.services.group_block, group_unblock or group_skip_once

    def post(self, request, group_id):
        group = get_object_or_404(groups_of(request.user).select_related("user"), pk=group_id)
        group = self.service(group=group)  # GroupNotOpen: a 409 (core.errors.api_exception_handler)
        return Response(GroupRiskSerializer(group).data)


def _control_schema(description: str):
    return extend_schema_view(
        post=extend_schema(request=None, responses={200: GroupRiskSerializer, **NOT_OPEN}, description=description)
    )


@_control_schema(
    "Block the position from the risk engine: it is never closed as the loser until unblocked. Its timer "
    "keeps running; a repeat changes nothing. Leaves a `manual_block` risk action."
)
class GroupBlockView(_GroupControlView):
    """Block a position from the risk engine: it is never closed as the loser until unblocked."""

    service = staticmethod(group_block)


@_control_schema(
    "Unblock the position: it may be closed as the loser again once its timer has expired. A repeat "
    "changes nothing. Leaves a `manual_unblock` risk action."
)
class GroupUnblockView(_GroupControlView):
    """Unblock a position: it may be closed as the loser again once its timer has expired."""

    service = staticmethod(group_unblock)


@_control_schema(
    "Skip the position in the next risk evaluation only: that evaluation does not close it as the loser, "
    "and clears the flag. Leaves a `manual_skip` risk action."
)
class GroupSkipView(_GroupControlView):
    """Skip a position in the next risk evaluation only: it is not closed as the loser then."""

    service = staticmethod(group_skip_once)


# --- Exchange sync -------------------------------------------------------------------------------


class ExchangeSyncView(APIView):
    """Re-read fills and prices now from every enabled exchange account, as the beat's fill sync does."""

    @extend_schema(
        request=None,
        responses=job_responses(ExchangeSyncJobSerializer),
        description="Re-read fills and prices now from every enabled exchange account, as the beat's fill "
        "sync does, in the background: the answer is a job to poll. Its `result`: for each account, every "
        "symbol with live orders has its fills read and applied, then every open position's price. An "
        "exchange's error is reported for the symbol or account it hit (`ok` false, `error`; the job then "
        "ends `failed`); the other accounts and symbols still sync.",
    )
    def post(self, request):
        return job_accepted(request, exchange_sync_request(user=request.user), ExchangeSyncJobSerializer)


# --- Record ----------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter(
                "action_type",
                str,
                description="One type, or several comma-separated: " + ", ".join(JournalEntry.Kind.values) + ".",
            ),
            OpenApiParameter(
                "group",
                uuid.UUID,
                description="Actions about this position: as its subject, as the loser "
                "of an offset, or as a winner an offset reduced.",
            ),
        ]
    ),
)
class RiskActionViewSet(viewsets.ReadOnlyModelViewSet):
    """What the risk engine and the trader did to positions, newest first."""

    serializer_class = RiskActionSerializer
    queryset = JournalEntry.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        if self.action != "list":
            return risk_actions(user=self.request.user)
        return risk_actions(user=self.request.user, action_types=self._action_types(), group_id=self._group())

    def _action_types(self) -> list[str] | None:
        raw = self.request.query_params.get("action_type", "").strip()
        if not raw:
            return None
        wanted = [part.strip().lower() for part in raw.split(",") if part.strip()]
        unknown = [value for value in wanted if value not in JournalEntry.Kind.values]
        if unknown:
            raise ValidationError(
                {
                    "action_type": [
                        f"Unknown action_type {unknown[0]!r}: use one of {', '.join(JournalEntry.Kind.values)} "
                        f"(comma-separated)."
                    ]
                }
            )
        return wanted

    def _group(self) -> uuid.UUID | None:
        raw = self.request.query_params.get("group", "").strip()
        if not raw:
            return None
        try:
            return uuid.UUID(raw)
        except ValueError:
            raise ValidationError({"group": [f"{raw!r} is not a valid position id."]}) from None
