from rest_framework import serializers

from core.api.serializers import NulFreeModelSerializer
from risk.job_results import EvaluatedLoserSerializer, EvaluatedWinnerSerializer, money
from risk.services import RISK_CONFIG_READ_ONLY
from trading.models import JournalEntry, PositionGroup, RiskConfig


class RiskConfigSerializer(NulFreeModelSerializer):
    """The trader's execution pool limits, queue and risk engine settings.

    loss_threshold_percent is negative (-1.5 = a 1.5 % loss); max_open_positions_per_symbol cannot
    exceed max_open_positions_global; priority_rules switches the queue's promotion rules on or off.
    The engine's state is read-only here: use POST /api/v1/risk/force-stop/ and /force-start/.
    """

    # Types are checked here; the rules (RiskConfig.clean()) by risk.services.risk_config_update.
    # engine_force_stopped is read-only so that every stop and start leaves a journal entry and a start
    # promotes the queue.

    class Meta:
        model = RiskConfig
        exclude = ("user",)
        read_only_fields = ("id", *(name for name in RISK_CONFIG_READ_ONLY if name != "user"))


class EngineStateSerializer(serializers.Serializer):
    """Whether new entries may open: both flags false means the engine takes new entries."""

    engine_force_stopped = serializers.BooleanField()
    engine_paused_by_loss_limit = serializers.BooleanField()
    message = serializers.CharField(help_text="The engine's state in words.")


class GroupRiskSerializer(serializers.ModelSerializer):
    """A position's risk fields: its timer, the trader's block and skip-once flags, and its loss."""

    # Plain text: a second serializer of the group's status choices would make drf-spectacular rename
    # the positions' status enum (a naming collision it warns about).
    status = serializers.CharField(
        read_only=True, help_text="waiting, live, partially_filled, active, closing, closed or failed."
    )

    class Meta:
        model = PositionGroup
        fields = (
            "id",
            "exchange",
            "symbol",
            "timeframe",
            "side",
            "status",
            "unrealized_pnl_usd",
            "unrealized_pnl_percent",
            "risk_timer_start",
            "risk_timer_expires",
            "risk_eligible",
            "risk_blocked",
            "risk_skip_once",
        )
        read_only_fields = fields


class PositionRiskSerializer(serializers.Serializer):
    """One open position as the risk engine sees it now, and whether it could be closed as the loser."""

    id = serializers.UUIDField(source="group.id")
    exchange = serializers.CharField(source="group.exchange")
    symbol = serializers.CharField(source="group.symbol")
    timeframe = serializers.IntegerField(source="group.timeframe")
    side = serializers.CharField(source="group.side")
    status = serializers.CharField(source="group.status")
    pyramid_count = serializers.IntegerField(source="group.pyramid_count")
    max_pyramids = serializers.IntegerField(source="group.max_pyramids")
    filled_pyramids = serializers.IntegerField(help_text="Pyramids with every entry leg filled.")
    pyramids_complete = serializers.BooleanField(
        help_text="Enough pyramids filled for the timer (required_pyramids_for_timer, or all the position may have)."
    )
    total_filled_quantity = money(source="group.total_filled_quantity")
    weighted_avg_entry = money(source="group.weighted_avg_entry", allow_null=True)
    current_price = money(source="group.current_price", allow_null=True)
    unrealized_pnl_usd = money(source="group.unrealized_pnl_usd")
    unrealized_pnl_percent = money(source="group.unrealized_pnl_percent")
    risk_timer_start = serializers.DateTimeField(source="group.risk_timer_start", allow_null=True)
    risk_timer_expires = serializers.DateTimeField(source="group.risk_timer_expires", allow_null=True)
    risk_eligible = serializers.BooleanField(
        source="group.risk_eligible", help_text="Stored: the timer had expired at the last evaluation."
    )
    risk_blocked = serializers.BooleanField(source="group.risk_blocked")
    risk_skip_once = serializers.BooleanField(source="group.risk_skip_once")
    pending_timer_event = serializers.CharField(
        allow_null=True,
        help_text="What the next evaluation will record for this timer (timer_started, timer_expired, "
        "timer_reset); null when it stays as stored.",
    )
    eligible = serializers.BooleanField(help_text="It could be closed as the loser if the engine evaluated now.")
    reason = serializers.CharField(allow_null=True, help_text="Why it cannot be the loser now; null when it can.")


class LoserSerializer(EvaluatedLoserSerializer):
    unrealized_pnl_usd = money()
    unrealized_pnl_percent = money()


class WinnerCloseSerializer(EvaluatedWinnerSerializer):
    unrealized_pnl_usd = money(help_text="The winner's whole unrealised profit.")
    price = money(help_text="The price the quantity was worked out at (the position's current price).")


class EngineStatusSerializer(serializers.Serializer):
    engine_force_stopped = serializers.BooleanField()
    engine_paused_by_loss_limit = serializers.BooleanField()
    message = serializers.CharField(help_text="The engine's state in words.")
    realized_loss_today_usd = money(help_text="Net realised loss of positions closed today (user's time zone).")
    max_realized_loss_usd = money()
    loss_threshold_percent = money()
    required_pyramids_for_timer = serializers.IntegerField()
    post_pyramids_wait_minutes = serializers.IntegerField()
    max_winners_to_combine = serializers.IntegerField()
    allow_partial_offset = serializers.BooleanField()
    last_evaluated_at = serializers.DateTimeField(allow_null=True)


class RiskStatusSerializer(serializers.Serializer):
    """What the risk engine would do if it evaluated now; reading it changes nothing."""

    as_of = serializers.DateTimeField()
    engine = EngineStatusSerializer()
    loser = LoserSerializer(
        allow_null=True, help_text="The position the offset would close; null when none is eligible."
    )
    winners = WinnerCloseSerializer(many=True, help_text="What the offset would take from each winner.")
    covered_usd = money(help_text="Profit the winners' closes would realise.")
    covers_loss = serializers.BooleanField(help_text="The winners' closes pay for the whole loss.")
    would_execute = serializers.BooleanField(
        help_text="An evaluation now would execute the offset (fully covered, or partly with allow_partial_offset)."
    )
    reason = serializers.CharField()
    positions = PositionRiskSerializer(many=True, help_text="Every open position, worst loss first.")


class WinnerDetailSerializer(serializers.Serializer):
    group_id = serializers.CharField()
    symbol = serializers.CharField()
    quantity_closed = serializers.CharField()
    pnl_usd = serializers.CharField()
    price = serializers.CharField()


class RiskActionSerializer(serializers.ModelSerializer):
    """Something the risk engine or the trader did to positions, with the numbers (an entry of the
    engine's journal; ``action_type`` is its kind, ``notes`` its summary)."""

    action_type = serializers.ChoiceField(source="kind", choices=JournalEntry.Kind.choices, read_only=True)
    symbol = serializers.CharField(
        source="group.symbol", allow_null=True, read_only=True, help_text="The symbol of the position it is about."
    )
    winner_details = WinnerDetailSerializer(
        many=True, read_only=True, help_text="Winners an offset reduced (decimals as strings)."
    )
    notes = serializers.CharField(source="summary", read_only=True)

    class Meta:
        model = JournalEntry
        fields = (
            "id",
            "action_type",
            "group",
            "symbol",
            "loser_group",
            "loser_pnl_usd",
            "required_usd",
            "winner_details",
            "exit_reason",
            "entry_price",
            "exit_price",
            "quantity_closed",
            "realized_pnl_usd",
            "pnl_percent",
            "duration_seconds",
            "notes",
            "created_at",
        )
        read_only_fields = fields
