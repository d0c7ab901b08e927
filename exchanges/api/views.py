from django.db.models import ProtectedError
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from exchanges.api.serializers import (
    ConnectionCheckSerializer, ExchangeAccountSerializer, PaperMarketSerializer, PaperPriceInputSerializer,
    PaperPriceResultSerializer, PaperPriceSerializer,
)
from exchanges.connector import ExchangeError
from exchanges.job_kinds import test_connection_request
from exchanges.models import ExchangeAccount, PaperMarket, PaperPrice
from exchanges.paper.connector import PaperConnector
from exchanges.paper.services import paper_market_upsert, paper_price_set
from jobs.api.serializers import job_serializer_for
from jobs.api.views import job_accepted, job_responses
from trading.api.params import query_text
from trading.api.serializers import ErrorSerializer


ConnectionCheckJobSerializer = job_serializer_for(ConnectionCheckSerializer, "ConnectionCheckJob")


@extend_schema_view(
    destroy=extend_schema(
        responses={204: None,
                   409: OpenApiResponse(ErrorSerializer, description="Positions were traded on the account.")},
        description="Delete an account no position was ever traded on. One with positions (open or closed) is "
        "kept for their record: disable it instead (`is_enabled` false).",
    ),
)
class ExchangeAccountViewSet(viewsets.ModelViewSet):
    """The trader's exchange accounts. API keys are write-only."""

    serializer_class = ExchangeAccountSerializer

    queryset = ExchangeAccount.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        return ExchangeAccount.objects.filter(user=self.request.user).order_by("exchange_id")

    def perform_create(self, serializer):
        serializer.save(user=self.request.user)

    def destroy(self, request, *args, **kwargs):
        account = self.get_object()
        try:
            account.delete()
        except ProtectedError as exc:  # position groups keep their account (on_delete=PROTECT)
            positions = len(exc.protected_objects)
            return Response(
                {"detail": f"The {account.exchange_id} account has {positions} position(s) on record (open or closed), "
                 "so it cannot be deleted: set is_enabled to false to stop trading on it."},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=job_responses(ConnectionCheckJobSerializer),
                   description="Fetch the balance with the stored keys, in the background: the answer is a job to "
                   "poll, whose `result` has the balances, or the exchange's error (the job then ends `failed`).")
    @action(detail=True, methods=["post"], url_path="test-connection")
    def test_connection(self, request, pk=None):
        """Fetch the balance with the stored keys; reports the exchange's error when it fails."""
        job = test_connection_request(account=self.get_object())
        return job_accepted(request, job, ConnectionCheckJobSerializer)


def _paper_account(user, exchange: str) -> ExchangeAccount:
    account = ExchangeAccount.objects.filter(user=user, exchange_id=exchange.strip().lower(), mode="paper").first()
    if account is None:
        raise NotFound(f"You have no paper account for {exchange!r}: add one in Settings → Exchange accounts.")
    return account


def _paper_exchanges(user) -> list[str]:
    return list(ExchangeAccount.objects.filter(user=user, mode="paper").values_list("exchange_id", flat=True))


class PaperPricesView(APIView):
    """Prices of the paper exchanges the trader has accounts on; POST sets one and matches at once."""

    @extend_schema(responses=PaperPriceSerializer(many=True))
    def get(self, request):
        prices = PaperPrice.objects.filter(exchange_id__in=_paper_exchanges(request.user)).order_by("exchange_id", "symbol")
        return Response(PaperPriceSerializer(prices, many=True).data)

    @extend_schema(request=PaperPriceInputSerializer, responses=PaperPriceResultSerializer)
    def post(self, request):
        data = PaperPriceInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        account = _paper_account(request.user, data.validated_data["exchange"])
        try:
            symbol = PaperConnector(account).resolve_symbol(data.validated_data["symbol"])
            result = paper_price_set(exchange_id=account.exchange_id, symbol=symbol, price=data.validated_data["price"])
        except ExchangeError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        body = {"exchange": result.exchange_id, "symbol": result.symbol, "price": result.price, "filled_orders": result.fills}
        return Response(PaperPriceResultSerializer(body).data, status=status.HTTP_200_OK)


class PaperMarketsView(APIView):
    """Markets of the trader's paper exchanges; POST adds or edits one."""

    @extend_schema(
        parameters=[OpenApiParameter("exchange", str, description="only this exchange")],
        responses=PaperMarketSerializer(many=True),
    )
    def get(self, request):
        exchanges = _paper_exchanges(request.user)
        wanted = query_text(request, "exchange")
        if wanted:
            account = _paper_account(request.user, wanted)
            PaperConnector(account).load_markets()  # seeds the list on first use
            exchanges = [account.exchange_id]
        markets = PaperMarket.objects.filter(exchange_id__in=exchanges).order_by("exchange_id", "symbol")
        return Response(PaperMarketSerializer(markets, many=True).data)

    @extend_schema(request=PaperMarketSerializer, responses=PaperMarketSerializer)
    def post(self, request):
        data = PaperMarketSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        account = _paper_account(request.user, values["exchange_id"])
        try:
            market = paper_market_upsert(
                exchange_id=account.exchange_id, symbol=values["symbol"], tick_size=values["tick_size"],
                step_size=values["step_size"], min_qty=values.get("min_qty", 0), min_notional=values.get("min_notional", 0),
                reference_price=values.get("reference_price"),
            )
        except ExchangeError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return Response(PaperMarketSerializer(market).data, status=status.HTTP_200_OK)
