from django.db.models import ProtectedError
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.params import query_text
from core.api.serializers import ErrorSerializer
from exchanges.api.serializers import (
    AccountBalanceSerializer,
    ExchangeAccountSerializer,
    PaperMarketSerializer,
    PaperPriceInputSerializer,
    PaperPriceResultSerializer,
    PaperPriceSerializer,
)
from exchanges.connector import ExchangeError
from exchanges.equity import Holding
from exchanges.job_kinds import balance_refresh_request, test_connection_request
from exchanges.job_results import BalanceRefreshResultSerializer, ConnectionCheckSerializer
from exchanges.models import ExchangeAccount
from exchanges.paper.connector import PaperConnector
from exchanges.paper.selectors import (
    has_own_price,
    paper_account_of,
    paper_exchanges_of,
    paper_markets,
    user_paper_quotes,
)
from exchanges.paper.services import (
    paper_account_price_clear,
    paper_account_price_set,
    paper_market_upsert,
)
from exchanges.selectors import balance_snapshot_of, exchange_accounts_of
from jobs.api.serializers import job_serializer_for
from jobs.api.views import job_accepted, job_responses

ConnectionCheckJobSerializer = job_serializer_for(ConnectionCheckSerializer, "ConnectionCheckJob")
BalanceRefreshJobSerializer = job_serializer_for(BalanceRefreshResultSerializer, "BalanceRefreshJob")


@extend_schema_view(
    destroy=extend_schema(
        responses={
            204: None,
            409: OpenApiResponse(ErrorSerializer, description="Positions were traded on the account."),
        },
        description="Delete an account no position was ever traded on. One with positions (open or closed) is "
        "kept for their record: disable it instead (`is_enabled` false).",
    ),
)
class ExchangeAccountViewSet(viewsets.ModelViewSet):
    """The trader's exchange accounts. API keys are write-only."""

    serializer_class = ExchangeAccountSerializer

    queryset = ExchangeAccount.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        return exchange_accounts_of(self.request.user)

    def perform_create(self, serializer):
        serializer.save(user=self.request.user)

    def destroy(self, request, *args, **kwargs):
        account = self.get_object()
        try:
            account.delete()
        except ProtectedError as exc:  # position groups keep their account (on_delete=PROTECT)
            positions = len(exc.protected_objects)
            return Response(
                {
                    "detail": f"The {account.exchange_id} account has {positions} position(s) on record "
                    "(open or closed), "
                    "so it cannot be deleted: set is_enabled to false to stop trading on it."
                },
                status=status.HTTP_409_CONFLICT,
            )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=None,
        responses=job_responses(ConnectionCheckJobSerializer),
        description="Fetch the balance with the stored keys, in the background: the answer is a job to "
        "poll, whose `result` has the balances, or the exchange's error (the job then ends `failed`).",
    )
    @action(detail=True, methods=["post"], url_path="test-connection")
    def test_connection(self, request, pk=None):
        """Fetch the balance with the stored keys; reports the exchange's error when it fails."""
        job = test_connection_request(account=self.get_object())
        return job_accepted(request, job, ConnectionCheckJobSerializer)

    @extend_schema(
        responses=AccountBalanceSerializer,
        description="The account's balance and USD equity as a worker last read them, with when "
        "(`fetched_at`). Never calls the exchange: POST …/refresh-balance/ reads them again.",
    )
    @action(detail=True, methods=["get"])
    def balance(self, request, pk=None):
        account = self.get_object()
        snapshot = balance_snapshot_of(account)
        body = {
            "account_id": account.pk,
            "equity_usd": snapshot.equity_usd,
            "holdings": [Holding.from_json(item) for item in snapshot.holdings],
            "unpriced_assets": snapshot.unpriced_assets,
            "fetched_at": snapshot.fetched_at,
            "error": snapshot.error,
            "error_at": snapshot.error_at,
        }
        return Response(AccountBalanceSerializer(body).data)

    @extend_schema(
        request=None,
        responses=job_responses(BalanceRefreshJobSerializer),
        description="Read the balance again and value it in USD, in the background: the answer is a job "
        "to poll; once it has succeeded, GET …/balance/ has the new figures (a failure keeps the last "
        "ones and gives the exchange's error).",
    )
    @action(detail=True, methods=["post"], url_path="refresh-balance")
    def refresh_balance(self, request, pk=None):
        job = balance_refresh_request(account=self.get_object())
        return job_accepted(request, job, BalanceRefreshJobSerializer)


def _paper_account(user, exchange: str, symbol: str = "") -> ExchangeAccount:
    account = paper_account_of(user, exchange, symbol)
    if account is None:
        raise NotFound(f"You have no paper account for {exchange!r}: add one in Settings → Exchange accounts.")
    return account


def _paper_exchanges(user) -> list[str]:
    return paper_exchanges_of(user)


def _price_result(account: ExchangeAccount, symbol: str, result) -> Response:
    body = {
        "exchange": account.exchange_id,
        "symbol": symbol,
        "price": result.price if result else None,
        "filled_orders": result.fills if result else 0,
    }
    return Response(PaperPriceResultSerializer(body).data, status=status.HTTP_200_OK)


class PaperPricesView(APIView):
    """Prices the trader's paper accounts trade at. POST sets the account's own price for a market and
    matches that account's orders at once; DELETE drops it, back to the shared price. Your own price
    never moves another trader's orders, and the shared feeds no longer move yours for that market."""

    @extend_schema(responses=PaperPriceSerializer(many=True))
    def get(self, request):
        return Response(PaperPriceSerializer(user_paper_quotes(request.user), many=True).data)

    @extend_schema(request=PaperPriceInputSerializer, responses=PaperPriceResultSerializer)
    def post(self, request):
        data = PaperPriceInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        account = _paper_account(request.user, data.validated_data["exchange"], data.validated_data["symbol"])
        try:
            symbol = PaperConnector(account).resolve_symbol(data.validated_data["symbol"])
            result = paper_account_price_set(account=account, symbol=symbol, price=data.validated_data["price"])
        except ExchangeError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return _price_result(account, symbol, result)

    @extend_schema(
        parameters=[
            OpenApiParameter("exchange", str, required=True),
            OpenApiParameter("symbol", str, required=True, description="BTC/USDT or BTCUSDT"),
        ],
        responses={
            200: PaperPriceResultSerializer,
            404: OpenApiResponse(ErrorSerializer, description="No such paper account, or no own price to drop."),
        },
    )
    def delete(self, request):
        exchange, wanted = query_text(request, "exchange"), query_text(request, "symbol")
        if not (exchange and wanted):
            raise ValidationError({"detail": "Name the price to drop: ?exchange=binance&symbol=BTC/USDT."})
        account = _paper_account(request.user, exchange, wanted)
        try:
            symbol = PaperConnector(account).resolve_symbol(wanted)
        except ExchangeError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        if not has_own_price(account, symbol):
            raise NotFound(
                f"Your {account.exchange_id} paper account has no price of its own for {symbol}: it "
                f"already follows the shared price."
            )
        return _price_result(account, symbol, paper_account_price_clear(account=account, symbol=symbol))


class PaperMarketsView(APIView):
    """Markets of the trader's paper exchanges; POST (staff only) adds or edits one."""

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
        markets = paper_markets(exchanges)
        return Response(PaperMarketSerializer(markets, many=True).data)

    @extend_schema(
        request=PaperMarketSerializer,
        responses={
            200: PaperMarketSerializer,
            403: OpenApiResponse(ErrorSerializer, description="Not staff: markets are the exchange's rules."),
        },
    )
    def post(self, request):
        # A market's tick, step and minimums apply to every paper account on that exchange, as a real
        # exchange's rules do: a trader editing them would change what everyone else may place.
        if not request.user.is_staff:
            raise PermissionDenied(
                "Paper markets are the exchange's rules, shared by every paper account: only "
                "an operator (staff) edits them, here or with `python manage.py paper market`."
            )
        data = PaperMarketSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            market = paper_market_upsert(
                exchange_id=values["exchange_id"].strip().lower(),
                symbol=values["symbol"],
                tick_size=values["tick_size"],
                step_size=values["step_size"],
                min_qty=values.get("min_qty", 0),
                min_notional=values.get("min_notional", 0),
                reference_price=values.get("reference_price"),
            )
        except ExchangeError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return Response(PaperMarketSerializer(market).data, status=status.HTTP_200_OK)
