"""The trading API: positions (list, detail, close), orders, signals, the queue and DCA configurations.

Every queryset is scoped to the requesting user, so another user's id answers 404. Views read
through the selectors (``trading.selectors``) and act through the services (``trading.services``);
they hold no trading rules.
"""

import uuid
from datetime import date
from functools import partial

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.settings import api_settings

from core.api.params import query_text
from core.api.serializers import ErrorSerializer
from jobs.api.serializers import job_serializer_for
from jobs.api.views import job_accepted, job_responses
from trading.api.serializers import (
    DCAConfigurationSerializer,
    GridPreviewQuerySerializer,
    GridPreviewSerializer,
    OrderSerializer,
    PositionGroupSerializer,
    QueuedSignalSerializer,
    SignalSerializer,
    grid_preview_data,
)
from trading.errors import DCAConfigurationClash
from trading.job_kinds import queue_promote_request
from trading.job_results import QueuePromoteResultSerializer
from trading.models import DCAConfiguration, ExitReason, Order, PositionGroup, QueuedSignal, Side, Signal
from trading.selectors import (
    TradeFilters,
    dca_configs_of,
    groups_of,
    orders_of,
    positions_of,
    preview_tiers,
    queue_entries_of,
    queue_history,
    queue_waiting,
    signals_of,
)
from trading.services.closing import position_close_by_trader
from trading.services.dca import dca_config_delete, dca_config_save
from trading.services.queue import queue_remove
from trading.states import GROUP_ACTIVE_STATUSES, GroupStatus, OrderStatus, QueuedSignalStatus, SignalStatus

# ``?status=open`` on positions: every status that still holds the position (not closed, not failed).
# Not ``active``: that is itself a status (every entry leg filled) and stays filterable on its own.
OPEN_POSITIONS = "open"
# ``?status=all`` on the queue: history as well as waiting entries.
ALL_QUEUE_ENTRIES = "all"

QueuePromoteJobSerializer = job_serializer_for(QueuePromoteResultSerializer, "QueuePromoteJob")


def _choices(request, name: str, allowed, *, aliases: dict | None = None) -> list[str] | None:
    """A comma-separated filter (``?status=live,partially_filled``) checked against ``allowed``; None if absent."""
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    aliases = aliases or {}
    wanted: list[str] = []
    for value in (part.strip().lower() for part in raw.split(",") if part.strip()):
        if value in aliases:
            wanted.extend(aliases[value])
        elif value in allowed:
            wanted.append(value)
        else:
            accepted = ", ".join([*aliases, *allowed])
            raise ValidationError({name: [f"Unknown {name} {value!r}: use one of {accepted} (comma-separated)."]})
    return wanted


def _uuid(request, name: str) -> uuid.UUID | None:
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ValidationError({name: [f"{raw!r} is not a valid id."]}) from None


def _one_of(request, name: str, allowed) -> str:
    """A single-choice filter (``?side=short``) checked against ``allowed``; "" if absent."""
    value = query_text(request, name).lower()
    if value and value not in allowed:
        raise ValidationError({name: [f"Unknown {name} {value!r}: use one of {', '.join(allowed)}."]})
    return value


def _day(request, name: str) -> date | None:
    raw = query_text(request, name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationError({name: [f"{raw!r} is not a day: use YYYY-MM-DD."]}) from None


def _integer(request, name: str) -> int | None:
    raw = query_text(request, name)
    if not raw:
        return None
    if not raw.isdigit():
        raise ValidationError({name: [f"{raw!r} is not an id."]})
    return int(raw)


def _trade_filters(request) -> TradeFilters:
    """The trade history's filters (``trading.selectors.TradeFilters``) from the query string."""
    return TradeFilters(
        exchange_account_id=_integer(request, "exchange_account"),
        side=_one_of(request, "side", Side.values),
        exit_reason=_one_of(request, "exit_reason", ExitReason.values),
        closed_from=_day(request, "closed_from"),
        closed_to=_day(request, "closed_to"),
    )


def _param(name: str, description: str, **kwargs) -> OpenApiParameter:
    return OpenApiParameter(name, str, description=description, **kwargs)


CONFLICT = {
    409: OpenApiResponse(ErrorSerializer, description="The position or queue entry is not in a state that allows it."),
}


@extend_schema_view(
    list=extend_schema(
        parameters=[
            _param(
                "status",
                "A status (waiting, live, partially_filled, active, closing, closed, failed), several "
                "comma-separated, or `open` for every status still holding a position (all but closed and failed).",
            ),
            _param("exchange", "Exchange id, e.g. binance."),
            _param("symbol", "Unified symbol, e.g. BTC/USDT (case-insensitive)."),
            OpenApiParameter("exchange_account", int, description="Only positions of this exchange account (its id)."),
            _param("side", "long or short.", enum=Side.values),
            _param("exit_reason", "Why the position closed.", enum=ExitReason.values),
            OpenApiParameter(
                "closed_from",
                date,
                description="Closed on or after this day (YYYY-MM-DD, in your "
                "time zone); with `status=closed`, the trade history's date range.",
            ),
            OpenApiParameter(
                "closed_to", date, description="Closed on or before this day (YYYY-MM-DD, in your time zone)."
            ),
        ]
    ),
)
class PositionViewSet(viewsets.ReadOnlyModelViewSet):
    """The trader's position groups, newest first, each with its pyramids, orders and exits."""

    serializer_class = PositionGroupSerializer
    queryset = PositionGroup.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        if self.action != "list":
            return positions_of(self.request.user)
        statuses = _choices(
            self.request,
            "status",
            [s.value for s in GroupStatus],
            aliases={OPEN_POSITIONS: [s.value for s in GROUP_ACTIVE_STATUSES]},
        )
        # The same filters as the dashboard's trade history and its CSV (one definition of each).
        return positions_of(
            self.request.user,
            statuses=statuses,
            exchange=query_text(self.request, "exchange"),
            symbol=query_text(self.request, "symbol"),
            filters=_trade_filters(self.request),
        )

    @extend_schema(
        request=None,
        responses={202: PositionGroupSerializer, **CONFLICT},
        description="Cancel the position's resting orders and market-close what it holds (exit reason `manual`). "
        "Answers 202 at once with the position `closing`; the close runs in the worker.",
    )
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        group = position_close_by_trader(group=get_object_or_404(groups_of(request.user), pk=pk))
        group = self.get_queryset().get(pk=group.pk)
        return Response(self.get_serializer(group).data, status=status.HTTP_202_ACCEPTED)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            _param(
                "status",
                "Order status (pending, trigger_pending, open, partially_filled, filled, cancelled, failed, "
                "unknown), several comma-separated.",
            ),
            _param("role", "entry, take_profit or exit; several comma-separated."),
            _param("symbol", "Unified symbol, e.g. BTC/USDT (case-insensitive)."),
            OpenApiParameter("group", uuid.UUID, description="Only the orders of this position group."),
        ]
    ),
)
class OrderViewSet(viewsets.ReadOnlyModelViewSet):
    """Every order the engine placed for the trader, newest first."""

    serializer_class = OrderSerializer
    queryset = Order.objects.none()

    def get_queryset(self):
        if self.action != "list":
            return orders_of(self.request.user)
        return orders_of(
            self.request.user,
            statuses=_choices(self.request, "status", [s.value for s in OrderStatus]),
            roles=_choices(self.request, "role", Order.Role.values),
            symbol=query_text(self.request, "symbol"),
            group_id=_uuid(self.request, "group"),
        )


@extend_schema_view(
    list=extend_schema(
        parameters=[
            _param(
                "status",
                "Signal status (received, opened, pyramided, exited, reduced, reversed, queued, ignored, "
                "rejected, failed), several comma-separated.",
            ),
            _param(
                "intent",
                "The intent acted on (for an auto alert, the one derived from the strategy's position "
                "change): signal, exit, reduce or reverse; several comma-separated.",
            ),
        ]
    ),
)
class SignalViewSet(viewsets.ReadOnlyModelViewSet):
    """The trader's TradingView alerts, newest first, with what happened to each and why."""

    serializer_class = SignalSerializer
    queryset = Signal.objects.none()

    def get_queryset(self):
        if self.action != "list":
            return signals_of(self.request.user)
        return signals_of(
            self.request.user,
            statuses=_choices(self.request, "status", [s.value for s in SignalStatus]),
            intents=_choices(self.request, "intent", Signal.Intent.values),
        )


@extend_schema_view(
    list=extend_schema(
        parameters=[
            _param(
                "status",
                "queued (the default: entries waiting now, oldest first), `all` for the history too, or "
                "promoted, expired, cancelled; several comma-separated. History is newest first.",
            ),
        ]
    ),
    destroy=extend_schema(
        responses={204: None, **CONFLICT},
        description="Drop a waiting entry: it leaves the queue as cancelled and its signal ends ignored.",
    ),
)
class QueueViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Entry signals waiting for a pool slot."""

    serializer_class = QueuedSignalSerializer
    queryset = QueuedSignal.objects.none()

    def get_queryset(self):
        if self.action != "list":
            return queue_entries_of(self.request.user)
        every_status = [s.value for s in QueuedSignalStatus]
        statuses = _choices(self.request, "status", every_status, aliases={ALL_QUEUE_ENTRIES: every_status})
        if statuses is None or statuses == [QueuedSignal.Status.QUEUED]:
            return queue_waiting(self.request.user)
        return queue_history(self.request.user, statuses=statuses)

    def destroy(self, request, *args, **kwargs):
        queue_remove(entry=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=None,
        responses={**job_responses(QueuePromoteJobSerializer), **CONFLICT},
        description="Open the entry now, past the pool limits (a force-stop still holds it). The signal is routed "
        "in the background (it reads the exchange's markets): the answer is a job to poll, whose `result` carries "
        "the signal's new status, the engine's reason and the position it opened. The job ends `failed` when "
        "nothing was opened (still queued, rejected, or the exchange did not answer: the entry then stays queued).",
    )
    @action(detail=True, methods=["post"])
    def promote(self, request, pk=None):
        return job_accepted(request, queue_promote_request(entry=self.get_object()), QueuePromoteJobSerializer)


class DCAConfigurationViewSet(viewsets.ModelViewSet):
    """The trader's DCA configurations, validated like the admin form (ladders, weights, pair, uniqueness)."""

    serializer_class = DCAConfigurationSerializer
    queryset = DCAConfiguration.objects.none()

    def get_queryset(self):
        return dca_configs_of(self.request.user)

    def perform_create(self, serializer):
        self._save(serializer, user=self.request.user)

    def perform_update(self, serializer):
        self._save(serializer)

    def perform_destroy(self, instance):
        dca_config_delete(config=instance)

    @extend_schema(
        parameters=[GridPreviewQuerySerializer],
        responses={200: GridPreviewSerializer, 400: OpenApiResponse(description="A query parameter is invalid.")},
        description="The configuration's grid for one pyramid at a given entry price, placing nothing: each leg's "
        "price, size (base asset, before the market's step), notional and margin at the configuration's leverage; "
        "the quantity, average entry and margin with every leg filled, and the estimated liquidation price then "
        "(the maintenance-margin tiers your swap account on the exchange was given for the pair, else Binance "
        "USDⓈ-M BTCUSDT's; the leverage capped by the tier of the grid's notional, as the engine sets it; "
        "isolated formula, cross estimated as if only this position's margin backed it, fees and funding ignored). "
        "`warning` says, with the numbers, when the deepest "
        "leg lies beyond it: such a configuration is only saved with `allow_legs_beyond_liquidation`.",
    )
    @action(detail=True, methods=["get"])
    def preview(self, request, pk=None):
        config = self.get_object()  # another trader's id is a 404 before the query is read
        query = GridPreviewQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = grid_preview_data(config, **query.validated_data, tiers=preview_tiers(request.user, config))
        return Response(GridPreviewSerializer(data).data)

    @staticmethod
    def _save(serializer, **extra):
        """A concurrent request can still win the unique constraint: answer 400 with the clash, not 500."""

        def probe() -> DCAConfiguration:
            # An update has already applied the new values to the instance; a create built none.
            return serializer.instance or DCAConfiguration(**serializer.validated_data, **extra)

        try:
            dca_config_save(partial(serializer.save, **extra), probe=probe)
        except DCAConfigurationClash as exc:
            raise ValidationError({api_settings.NON_FIELD_ERRORS_KEY: [str(exc)]}) from None
