"""Shapes of the trading API: positions with their pyramids and orders, signals, queue, DCA configurations.

Field names are the model field names (README "API"); decimals are strings. Each model has
one output serializer, used both in lists and nested, so a script sees one shape per record and the
OpenAPI schema one component per record.
"""

from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.settings import api_settings

from core.api.serializers import NamedChoiceField, NulFreeModelSerializer, drf_errors
from exchanges.enums import MarginMode
from trading.liquidation import PreviewTiers, beyond_liquidation_message
from trading.models import (
    DCAConfiguration,
    Order,
    OrderSide,
    OrderType,
    PositionGroup,
    Pyramid,
    QueuedSignal,
    Side,
    Signal,
)
from trading.selectors import dca_configuration_clash


class OrderSerializer(serializers.ModelSerializer):
    """One order on the exchange: an entry leg, its take-profit, or a market exit."""

    side = NamedChoiceField(enum_name="OrderSideEnum", choices=OrderSide.choices, read_only=True)
    order_type = NamedChoiceField(enum_name="OrderTypeEnum", choices=OrderType.choices, read_only=True)

    class Meta:
        model = Order
        fields = (
            "id",
            "group",
            "pyramid",
            "role",
            "leg_index",
            "symbol",
            "side",
            "order_type",
            "price",
            "quantity",
            "status",
            "filled_quantity",
            "avg_fill_price",
            "fee",
            "fee_currency",
            "tp_percent",
            "tp_price",
            "entry_order",
            "exit_reason",
            "slippage_percent",
            "client_order_id",
            "exchange_order_id",
            "error_message",
            "submitted_at",
            "filled_at",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class PyramidSerializer(serializers.ModelSerializer):
    """One entry into a position with its own DCA grid: entry legs and their take-profits."""

    orders = OrderSerializer(many=True, read_only=True)

    class Meta:
        model = Pyramid
        fields = (
            "id",
            "index",
            "entry_price",
            "status",
            "capital_usd",
            "sizing",
            "tp_percent",
            "created_at",
            "filled_at",
            "closed_at",
            "orders",
        )
        read_only_fields = fields


class PositionGroupSerializer(serializers.ModelSerializer):
    """A position group with its statistics, its pyramids (and their orders) and its market exits."""

    # Reads the prefetches of trading.api.views.positions_queryset (pyramids, their orders and
    # prefetched_exit_orders): a page of positions costs a constant number of queries.

    pyramids = PyramidSerializer(many=True, read_only=True)
    exit_orders = OrderSerializer(
        many=True,
        read_only=True,
        source="prefetched_exit_orders",
        help_text="Market closes of the group as a whole: exit signal, aggregate take-profit, stop loss, reduce, "
        "risk offset, manual.",
    )

    quote_currency = serializers.CharField(
        read_only=True,
        help_text="The currency of total_invested_usd, unrealized_pnl_usd, realized_pnl_usd, fees_usd, funding_pnl_usd "
        "and dust_value (named _usd for compatibility): the market's quote, which is USD only for USD stablecoins.",
    )

    class Meta:
        model = PositionGroup
        fields = (
            "id",
            "exchange",
            "exchange_account",
            "symbol",
            "timeframe",
            "side",
            "status",
            "status_reason",
            "pyramid_count",
            "max_pyramids",
            "replacement_count",
            "total_dca_legs",
            "filled_dca_legs",
            "base_entry_price",
            "weighted_avg_entry",
            "quote_currency",
            "quote_usd_rate",
            "total_invested_usd",
            "total_filled_quantity",
            "current_price",
            "unrealized_pnl_usd",
            "unrealized_pnl_percent",
            "realized_pnl_usd",
            "fees_usd",
            "funding_pnl_usd",
            "dust_quantity",
            "dust_value",
            "oversold_quantity",
            "tp_mode",
            "tp_aggregate_percent",
            "stop_loss_price",
            "liquidation_price",
            "margin_ratio",
            "positions_synced_at",
            "risk_timer_start",
            "risk_timer_expires",
            "risk_eligible",
            "risk_blocked",
            "risk_skip_once",
            "exit_reason",
            "created_at",
            "updated_at",
            "closed_at",
            "pyramids",
            "exit_orders",
        )
        read_only_fields = fields


class SignalSerializer(serializers.ModelSerializer):
    """One TradingView alert as received (its secret removed), with what the engine did with it and why."""

    class Meta:
        model = Signal
        fields = (
            "id",
            "received_at",
            "client_ip",
            "status",
            "reason",
            "http_status",
            "intent",
            "exchange",
            "tv_symbol",
            "symbol",
            "timeframe",
            "side",
            "entry_price",
            "position_group",
            "payload",
        )
        read_only_fields = fields


class QueuedSignalSerializer(serializers.ModelSerializer):
    """An entry signal waiting for a pool slot (or, in the history, how its wait ended)."""

    class Meta:
        model = QueuedSignal
        fields = (
            "id",
            "signal",
            "exchange",
            "symbol",
            "timeframe",
            "side",
            "entry_price",
            "is_pyramid_continuation",
            "replacement_count",
            "status",
            "status_reason",
            "queued_at",
            "updated_at",
            "expires_at",
            "resolved_at",
        )
        read_only_fields = fields


class DCAConfigurationSerializer(NulFreeModelSerializer):
    """How to trade one pair on one exchange and timeframe: the DCA ladder, pyramids, take-profit.

    Checked like the admin form: every ladder's weight_percent must sum to 100, the pair is BASE/QUOTE
    (or * for the exchange default), aggregate take-profit modes need tp_aggregate_percent, leverage is 1
    to 125, a ladder whose deepest leg lies beyond the estimated liquidation price with every leg filled
    (long or short) is refused unless allow_legs_beyond_liquidation, and one configuration per exchange,
    pair and timeframe. Stored normalised (exchange lower case, pair upper
    case, ladder numbers as decimal strings).
    """

    # Validation is DCAConfiguration.full_clean(), the admin's, on an unsaved copy (see validate()).

    entry_order_type = NamedChoiceField(
        enum_name="OrderTypeEnum",
        choices=OrderType.choices,
        required=False,
        help_text="limit: every leg at once; market: leg 0 fires when price reaches it.",
    )
    margin_mode = NamedChoiceField(
        enum_name="MarginModeEnum",
        choices=MarginMode.choices,
        required=False,
        help_text="Swap accounts only. isolated: the position risks its own margin; cross: the account's balance.",
    )

    class Meta:
        model = DCAConfiguration
        fields = (
            "id",
            "exchange",
            "pair",
            "timeframe",
            "levels",
            "pyramid_levels",
            "tp_mode",
            "tp_aggregate_percent",
            "pyramid_tp_percents",
            "max_pyramids",
            "entry_order_type",
            "capital_usd",
            "use_signal_size",
            "stop_loss_percent",
            "max_slippage_percent",
            "slippage_action",
            "tp_from_planned_price",
            "leverage",
            "margin_mode",
            "allow_legs_beyond_liquidation",
            "is_active",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "created_at", "updated_at")
        # Uniqueness per (user, exchange, pair, timeframe) is checked in validate(), after clean() has
        # normalised exchange and pair, with a message naming the clash.
        validators: list = []

    def validate(self, attrs):
        user = self.context["request"].user
        current = self.instance or DCAConfiguration(user=user)
        fields = DCAConfiguration._meta.concrete_fields
        probe = DCAConfiguration(**{field.attname: getattr(current, field.attname) for field in fields})
        probe._state.adding = self.instance is None  # so the constraint checks do not count an edit as its own clash
        for name, value in attrs.items():
            setattr(probe, name, value)
        try:
            probe.full_clean(validate_unique=False, validate_constraints=False)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(drf_errors(exc)) from None
        clash = dca_configuration_clash(probe)
        if clash is not None:
            raise serializers.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: [clash]})
        try:
            probe.validate_constraints()  # the database's check constraints (capital > 0, …), as the admin does
        except DjangoValidationError as exc:
            raise serializers.ValidationError(drf_errors(exc)) from None
        # clean() normalised these (lower-case exchange, BTC/USDT, ladders as decimal strings): save those.
        return {name: getattr(probe, name) for name in attrs}


class GridPreviewQuerySerializer(serializers.Serializer):
    """The preview's query string."""

    entry_price = serializers.DecimalField(
        max_digits=30, decimal_places=12, min_value=Decimal("0.000000000001"), help_text="The entry price to plan from."
    )
    side = serializers.ChoiceField(choices=Side.choices, default=Side.LONG, help_text="long or short.")
    pyramid = serializers.IntegerField(
        min_value=0,
        default=0,
        help_text="The pyramid index (0 = the initial entry): its pyramid_levels override, else levels.",
    )


PREVIEW_NUMBER = {"max_digits": 40, "decimal_places": 12, "read_only": True}


class PreviewLegSerializer(serializers.Serializer):
    leg_index = serializers.IntegerField(read_only=True)
    gap_percent = serializers.DecimalField(**PREVIEW_NUMBER)
    price = serializers.DecimalField(**PREVIEW_NUMBER)
    quantity = serializers.DecimalField(**PREVIEW_NUMBER, help_text="Base asset, before the market's step.")
    notional = serializers.DecimalField(**PREVIEW_NUMBER, help_text="Quote: price × quantity.")
    margin = serializers.DecimalField(**PREVIEW_NUMBER, help_text="Notional ÷ leverage.")
    beyond_liquidation = serializers.BooleanField(
        read_only=True, help_text="At or past the estimated liquidation price with every leg filled."
    )


class GridPreviewSerializer(serializers.Serializer):
    """One pyramid's grid at an entry price, before the market's tick and step, with every leg filled:
    quantity, average entry, margin and the estimated liquidation price (trading.liquidation: the exchange's
    maintenance tiers when your swap account has given them, else Binance USDⓈ-M BTCUSDT's; isolated
    formula, cross estimated as isolated, fees ignored)."""

    ladder = serializers.CharField(read_only=True, help_text="levels, or pyramid_levels[i] for an override.")
    side = serializers.CharField(read_only=True)
    entry_price = serializers.DecimalField(**PREVIEW_NUMBER)
    leverage = serializers.IntegerField(
        read_only=True,
        help_text="The leverage the engine would set: configured_leverage capped by the tier holding the grid's "
        "notional.",
    )
    configured_leverage = serializers.IntegerField(read_only=True)
    margin_mode = serializers.CharField(read_only=True)
    tiers_source = serializers.CharField(
        read_only=True,
        help_text="The maintenance-margin and leverage tiers used: your swap account's, as the exchange gave them "
        "for the pair, or the default table (Binance USDⓈ-M BTCUSDT's).",
    )
    capital = serializers.DecimalField(**PREVIEW_NUMBER, help_text="Capital per pyramid (capital_usd).")
    legs = PreviewLegSerializer(many=True, read_only=True)
    quantity = serializers.DecimalField(**PREVIEW_NUMBER)
    notional = serializers.DecimalField(**PREVIEW_NUMBER)
    margin = serializers.DecimalField(**PREVIEW_NUMBER)
    average_entry = serializers.DecimalField(**PREVIEW_NUMBER)
    liquidation_price = serializers.DecimalField(
        **PREVIEW_NUMBER, allow_null=True, help_text="null: a long at 1× is never liquidated."
    )
    last_leg_beyond_liquidation = serializers.BooleanField(read_only=True)
    warning = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="The deepest leg lies beyond the liquidation price, with the numbers (saving is refused unless "
        "allow_legs_beyond_liquidation); else null.",
    )


def grid_preview_data(
    config: DCAConfiguration,
    *,
    side: str,
    entry_price: Decimal,
    pyramid: int = 0,
    tiers: PreviewTiers | None = None,
) -> dict:
    """What ``GridPreviewSerializer`` shows for ``config`` (its ladder for ``pyramid``) at ``entry_price``, with
    the exchange's ``tiers`` when known (``trading.selectors.preview_tiers``)."""
    ladder = config.ladder_name(pyramid)
    preview = config.preview(side=side, entry_price=entry_price, ladder=ladder, tiers=tiers)
    shown = ("side", "entry_price", "leverage", "configured_leverage", "margin_mode", "tiers_source")
    return {
        **{name: getattr(preview, name) for name in shown},
        **{name: getattr(preview, name) for name in ("quantity", "notional", "margin", "average_entry")},
        "ladder": ladder,
        "capital": config.capital_usd,
        "legs": preview.legs,
        "liquidation_price": preview.liquidation_price,
        "last_leg_beyond_liquidation": preview.last_leg_beyond_liquidation,
        "warning": beyond_liquidation_message(preview, ladder=ladder),
    }
