"""Trading records: users, DCA configurations, signals, position groups, pyramids, orders, queue, each
user's pool and risk settings (``RiskConfig``) and the engine's journal (``JournalEntry``)."""

import secrets
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.db.models import F, Q

from core.fields import MONEY
from exchanges.currency import quote_of
from exchanges.enums import MarginMode, OrderSide, OrderType
from trading import journal_text
from trading.grid import DcaLevel, LevelsError, parse_levels, parse_pyramid_levels, parse_pyramid_tp_percents
from trading.journal_text import JournalKind, WinnersState
from trading.liquidation import (
    BINANCE_BTCUSDT_TIERS,
    DEFAULT_TIERS_SOURCE,
    MAX_LEVERAGE,
    MIN_LEVERAGE,
    GridPreview,
    PreviewTiers,
    beyond_liquidation_message,
    grid_preview,
)
from trading.states import (
    GROUP_TERMINAL_STATUSES,
    GroupStatus,
    OrderStatus,
    PyramidStatus,
    QueuedSignalStatus,
    SignalStatus,
    choices,
)
from trading.vocabulary import ExitReason, Side, SlippageAction, TakeProfitMode

if TYPE_CHECKING:
    from exchanges.connector import Market


def position_label(side: str, symbol: str, timeframe_minutes: int) -> str:
    """A position's name in messages and pages: side, symbol, timeframe ("long BTC/USDT 15m")."""
    return f"{side} {symbol} {timeframe_minutes}m"


def new_webhook_secret() -> str:
    """32 random bytes, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


class User(AbstractUser):
    """A trader. Owns a webhook URL with its own secret, and every record below."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    webhook_secret = models.CharField(max_length=128, default=new_webhook_secret)
    replay_window_seconds = models.PositiveIntegerField(
        default=600, help_text="Alerts whose timestamp is older than this are refused."
    )
    dedupe_window_seconds = models.PositiveIntegerField(
        default=600,
        help_text="A repeat of the same alert body within this window acts once; at least the replay window.",
    )
    time_zone = models.CharField(max_length=64, default="UTC", help_text="For quiet hours and daily limits.")

    class Meta(AbstractUser.Meta):
        constraints = [
            # A body older than the dedupe window but inside the replay window would be acted on twice.
            models.CheckConstraint(
                condition=Q(dedupe_window_seconds__gte=F("replay_window_seconds")), name="user_dedupe_covers_replay"
            ),
        ]

    def clean(self) -> None:
        super().clean()
        if (
            self.dedupe_window_seconds is not None
            and self.replay_window_seconds is not None
            and self.dedupe_window_seconds < self.replay_window_seconds
        ):
            raise ValidationError(
                {
                    "dedupe_window_seconds": (
                        f"Must be at least the replay window ({self.replay_window_seconds} s): an alert repeated after "
                        f"{self.dedupe_window_seconds} s would still be inside the replay window and be acted on "
                        "twice. "
                        f"Set it to {self.replay_window_seconds} or more, or shorten the replay window."
                    )
                }
            )

    @property
    def webhook_url(self) -> str:
        return f"{settings.PUBLIC_BASE_URL}/webhooks/{self.id}/tradingview"


# A DCA configuration's settings by section, in the order the admin and the dashboard's form list them.
DCA_CONFIG_SETTINGS = {
    "Market": ("exchange", "pair", "timeframe", "is_active"),
    "DCA ladder": ("levels", "pyramid_levels", "max_pyramids", "capital_usd", "use_signal_size", "entry_order_type"),
    "Take-profit": ("tp_mode", "tp_aggregate_percent", "pyramid_tp_percents", "tp_from_planned_price"),
    "Protection": ("stop_loss_percent", "max_slippage_percent", "slippage_action"),
    "Leverage (swap accounts)": ("leverage", "margin_mode", "allow_legs_beyond_liquidation"),
}


class DCAConfiguration(models.Model):
    """How to trade one pair on one exchange and timeframe: the DCA ladder, pyramids, take-profit.

    ``pair`` ``*`` is the exchange's default, used when no specific configuration exists; a null
    ``timeframe`` applies to every timeframe.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="dca_configs")
    exchange = models.CharField(max_length=32, help_text="Exchange id, lower case, e.g. binance.")
    pair = models.CharField(max_length=40, help_text="Unified symbol like BTC/USDT, or * for the exchange default.")
    timeframe = models.PositiveIntegerField(null=True, blank=True, help_text="Minutes; empty = any timeframe.")
    levels = models.JSONField(help_text='[{"gap_percent": 0, "weight_percent": 20, "tp_percent": 2}, …]')
    pyramid_levels = models.JSONField(
        default=dict, blank=True, help_text='Overrides per pyramid index: {"1": [levels…]}'
    )
    tp_mode = models.CharField(max_length=20, choices=TakeProfitMode.choices, default=TakeProfitMode.PER_LEG)
    tp_aggregate_percent = models.DecimalField(**MONEY, default=0)
    pyramid_tp_percents = models.JSONField(default=dict, blank=True, help_text='{"0": 2.0, "1": 1.5}')
    max_pyramids = models.PositiveSmallIntegerField(default=5, help_text="Counts the initial entry.")
    entry_order_type = models.CharField(max_length=10, choices=OrderType.choices, default=OrderType.LIMIT)
    capital_usd = models.DecimalField(**MONEY, help_text="Capital per pyramid, in quote currency.")
    use_signal_size = models.BooleanField(default=False, help_text="Size from the alert's order_size when present.")
    stop_loss_percent = models.DecimalField(**MONEY, null=True, blank=True)
    max_slippage_percent = models.DecimalField(**MONEY, null=True, blank=True)
    slippage_action = models.CharField(max_length=10, choices=SlippageAction.choices, default=SlippageAction.WARN)
    tp_from_planned_price = models.BooleanField(
        default=False, help_text="Per-leg take-profit from the planned price instead of the actual fill."
    )
    leverage = models.PositiveSmallIntegerField(
        default=1,
        help_text=f"{MIN_LEVERAGE} to {MAX_LEVERAGE}. Swap accounts only: a spot account always trades at 1×.",
    )
    margin_mode = models.CharField(
        max_length=10,
        choices=MarginMode.choices,
        default=MarginMode.ISOLATED,
        help_text="Swap accounts only. Isolated: the position risks only its own margin; cross: the account's balance.",
    )
    allow_legs_beyond_liquidation = models.BooleanField(
        default=False,
        help_text="Keep a ladder whose deepest leg lies beyond the estimated liquidation price with every leg filled.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "DCA configuration"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "exchange", "pair", "timeframe"], name="uniq_dca_config_per_timeframe"
            ),
            models.UniqueConstraint(
                fields=["user", "exchange", "pair"],
                condition=Q(timeframe__isnull=True),
                name="uniq_dca_config_any_timeframe",
            ),
            models.CheckConstraint(condition=Q(capital_usd__gt=0), name="dca_capital_positive"),
            models.CheckConstraint(condition=Q(max_pyramids__gte=1), name="dca_max_pyramids_at_least_one"),
            models.CheckConstraint(condition=Q(tp_aggregate_percent__gte=0), name="dca_tp_aggregate_not_negative"),
            models.CheckConstraint(
                condition=Q(stop_loss_percent__isnull=True) | Q(stop_loss_percent__gt=0),
                name="dca_stop_loss_positive",
            ),
            models.CheckConstraint(
                condition=Q(max_slippage_percent__isnull=True) | Q(max_slippage_percent__gte=0),
                name="dca_slippage_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(leverage__gte=MIN_LEVERAGE) & Q(leverage__lte=MAX_LEVERAGE), name="dca_leverage_in_range"
            ),
        ]

    def __str__(self) -> str:
        timeframe = f"{self.timeframe}m" if self.timeframe else "any timeframe"
        return f"{self.exchange} {self.pair} {timeframe}"

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        self.exchange = (self.exchange or "").strip().lower()
        self.pair = (self.pair or "").strip().upper()
        if self.pair != "*" and "/" not in self.pair:
            errors["pair"] = ["Use the unified form BASE/QUOTE (e.g. BTC/USDT), or * for the exchange default."]
        max_pyramids = self.max_pyramids or 1
        for field, parse, normalise in (
            ("levels", parse_levels, lambda v: [level.as_json() for level in v]),
            (
                "pyramid_levels",
                lambda raw: parse_pyramid_levels(raw, max_pyramids),
                lambda v: {str(i): [level.as_json() for level in ladder] for i, ladder in sorted(v.items())},
            ),
            (
                "pyramid_tp_percents",
                lambda raw: parse_pyramid_tp_percents(raw, max_pyramids),
                lambda v: {str(i): str(percent) for i, percent in sorted(v.items())},
            ),
        ):
            try:
                setattr(self, field, normalise(parse(getattr(self, field))))
            except LevelsError as exc:
                errors[field] = exc.messages
        if self.tp_mode in (TakeProfitMode.AGGREGATE, TakeProfitMode.HYBRID) and not self.tp_aggregate_percent:
            errors["tp_aggregate_percent"] = [
                f"Set a positive tp_aggregate_percent for the {self.tp_mode} take-profit mode."
            ]
        leverage_known = isinstance(self.leverage, int)  # not when the field's own check refused the value
        if leverage_known and not MIN_LEVERAGE <= self.leverage <= MAX_LEVERAGE:
            errors["leverage"] = [
                f"Leverage must be a whole number from {MIN_LEVERAGE} to {MAX_LEVERAGE} (got {self.leverage}); "
                "exchanges cap it lower for large positions and most altcoins."
            ]
        if not errors and leverage_known and not self.allow_legs_beyond_liquidation:
            refusals = self.legs_beyond_liquidation()
            if refusals:
                errors[NON_FIELD_ERRORS] = refusals
        if errors:
            raise ValidationError(errors)

    def ladders(self) -> dict[str, list[DcaLevel]]:
        """Each pyramid's ladder by name: ``levels`` (pyramid 0 and every pyramid without an override), then
        ``pyramid_levels[i]``. The ladders must be valid (``clean()`` has run)."""
        ladders = {"levels": parse_levels(self.levels)}
        for index, ladder in sorted(parse_pyramid_levels(self.pyramid_levels, self.max_pyramids or 1).items()):
            ladders[f"pyramid_levels[{index}]"] = ladder
        return ladders

    def ladder_name(self, pyramid: int) -> str:
        """The ladder pyramid ``pyramid`` trades: its ``pyramid_levels`` override, else ``levels``."""
        name = f"pyramid_levels[{pyramid}]"
        return name if name in self.ladders() else "levels"

    def preview(
        self, *, side: str, entry_price: Decimal, ladder: str = "levels", tiers: PreviewTiers | None = None
    ) -> GridPreview:
        """One pyramid's grid at ``entry_price`` at this configuration's leverage (capped by the tier of the grid's
        notional) and margin mode, with the estimated liquidation price (``trading.liquidation.grid_preview``).
        ``tiers``: the exchange's table and where it came from (``trading.selectors.preview_tiers``); the
        default table without."""
        table, source = tiers if tiers else (BINANCE_BTCUSDT_TIERS, DEFAULT_TIERS_SOURCE)
        return grid_preview(
            side=side,
            entry_price=entry_price,
            levels=self.ladders()[ladder],
            capital=self.capital_usd,
            leverage=self.leverage,
            margin_mode=self.margin_mode,
            tiers=table,
            tiers_source=source,
        )

    def legs_beyond_liquidation(self) -> list[str]:
        """Why each ladder, long or short, would be refused: its deepest leg at or beyond the estimated
        liquidation price with every leg filled. The proportions do not depend on the entry price (prices,
        the average and the liquidation price all scale with it), so the check uses 1 and speaks in percent."""
        if not isinstance(self.capital_usd, Decimal | int) or self.capital_usd <= 0:
            return []
        refusals = []
        for ladder in self.ladders():
            for side in Side.values:
                try:
                    preview = self.preview(side=side, entry_price=Decimal(1), ladder=ladder)
                except ValueError:  # a leg at a price of zero or below: the ladder's own checks speak for it
                    continue
                message = beyond_liquidation_message(preview, ladder=ladder)
                if message:
                    refusals.append(message)
        return refusals


class Signal(models.Model):
    """One TradingView alert as received: accepted ones are routed, rejected ones kept to be seen."""

    Status = SignalStatus  # the state machine: trading.states

    class Intent(models.TextChoices):
        """The intent acted on: an ``auto`` alert records the one derived from the strategy's position
        change (``trading.intents``), blank when that change asked for nothing."""

        SIGNAL = "signal", "Signal"
        EXIT = "exit", "Exit"
        REDUCE = "reduce", "Reduce"
        REVERSE = "reverse", "Reverse"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Null for a rejection that names no known user (kept for the operator, shown to nobody).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="signals"
    )
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    # sha256 of the body; set only on accepted signals, and cleared once the dedupe window passes.
    dedupe_key = models.CharField(max_length=64, null=True, blank=True)
    payload = models.JSONField(null=True, blank=True, help_text="The alert as received, secret removed.")
    http_status = models.PositiveSmallIntegerField(default=202)
    status = models.CharField(
        max_length=12, choices=choices(SignalStatus), default=SignalStatus.RECEIVED, db_index=True
    )
    reason = models.TextField(blank=True, help_text="Why the signal ended in its status, in plain words.")
    intent = models.CharField(max_length=10, choices=Intent.choices, blank=True)
    exchange = models.CharField(max_length=32, blank=True)
    tv_symbol = models.CharField(max_length=64, blank=True)
    symbol = models.CharField(max_length=40, blank=True, help_text="Unified symbol once resolved.")
    timeframe = models.PositiveIntegerField(null=True, blank=True)
    side = models.CharField(max_length=5, choices=Side.choices, blank=True)
    entry_price = models.DecimalField(**MONEY, null=True, blank=True)
    position_group = models.ForeignKey(
        "PositionGroup", null=True, blank=True, on_delete=models.SET_NULL, related_name="signals"
    )
    routing_attempts = models.PositiveSmallIntegerField(default=0)
    routed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "dedupe_key"], name="uniq_signal_dedupe_key"),
        ]
        indexes = [
            models.Index(fields=["status", "received_at"], name="signal_status_received"),
            # The signals page: a trader's accepted alerts, newest first, however many refused
            # requests their URL received; and the refused ones on their own.
            models.Index(
                fields=["user", "-received_at"], condition=Q(http_status__lt=400), name="signal_user_accepted"
            ),
            models.Index(
                fields=["user", "-received_at"], condition=Q(http_status__gte=400), name="signal_user_refused"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.intent or 'alert'} {self.tv_symbol} {self.status}"


class WebhookRejectionTally(models.Model):
    """Refused webhook requests counted instead of stored: one row per source network and hour.

    Requests naming no known user (a random or stale URL) are only counted here, so they cannot
    fill the database row by row; the operator sees who sends them in admin.
    """

    network = models.CharField(max_length=64, help_text="The client's IPv4 address, or its IPv6 /64.")
    hour = models.DateTimeField(help_text="Start of the hour counted (UTC).")
    count = models.PositiveBigIntegerField(default=0)
    last_http_status = models.PositiveSmallIntegerField()
    last_reason = models.CharField(max_length=200, blank=True)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "webhook rejection tallies"
        ordering = ["-hour", "-count"]
        constraints = [models.UniqueConstraint(fields=["network", "hour"], name="uniq_rejection_tally")]
        indexes = [models.Index(fields=["hour"], name="rejection_tally_hour")]

    def __str__(self) -> str:
        return f"{self.count} refused from {self.network} at {self.hour:%Y-%m-%d %H}:00"


class PositionGroup(models.Model):
    """All entries into one market in one direction: user × exchange × symbol × timeframe × side.

    It holds one or more pyramids, each with its own DCA grid, and keeps the running statistics of
    the position. At most one active group exists per identity (database constraint).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="position_groups")
    exchange_account = models.ForeignKey(
        "exchanges.ExchangeAccount", on_delete=models.PROTECT, related_name="position_groups"
    )
    exchange = models.CharField(max_length=32)
    symbol = models.CharField(max_length=40, help_text="Unified symbol, e.g. BTC/USDT.")
    timeframe = models.PositiveIntegerField(help_text="Minutes.")
    side = models.CharField(max_length=5, choices=Side.choices)
    status = models.CharField(max_length=20, choices=choices(GroupStatus), default=GroupStatus.WAITING)
    dca_config = models.ForeignKey(DCAConfiguration, null=True, blank=True, on_delete=models.SET_NULL)
    config_snapshot = models.JSONField(help_text="The DCA configuration this group was opened with.")

    pyramid_count = models.PositiveSmallIntegerField(default=0, help_text="Pyramid rows, initial entry included.")
    max_pyramids = models.PositiveSmallIntegerField()
    replacement_count = models.PositiveIntegerField(default=0)
    total_dca_legs = models.PositiveIntegerField(default=0)
    filled_dca_legs = models.PositiveIntegerField(default=0)

    base_entry_price = models.DecimalField(**MONEY)
    weighted_avg_entry = models.DecimalField(**MONEY, null=True, blank=True)
    total_invested_usd = models.DecimalField(**MONEY, default=0)
    total_filled_quantity = models.DecimalField(**MONEY, default=0)
    current_price = models.DecimalField(**MONEY, null=True, blank=True)
    unrealized_pnl_usd = models.DecimalField(**MONEY, default=0)
    unrealized_pnl_percent = models.DecimalField(**MONEY, default=0)
    realized_pnl_usd = models.DecimalField(**MONEY, default=0)
    fees_usd = models.DecimalField(**MONEY, default=0)
    funding_pnl_usd = models.DecimalField(
        **MONEY,
        default=0,
        help_text="Funding received (positive) or paid (negative) on a swap position, in the quote currency; "
        "part of realized_pnl_usd.",
    )
    dust_quantity = models.DecimalField(
        **MONEY, default=0, help_text="Base asset left when the group closed, under the market's minimums to sell."
    )
    dust_value = models.DecimalField(
        **MONEY, default=0, help_text="What the dust was worth when the group closed (quote)."
    )
    quote_usd_rate = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        default=1,
        help_text="USD per unit of the quote currency (1 for USD stablecoins; <quote>/USDT otherwise, refreshed "
        "with the price): the statistics above are in the quote currency, cross-position totals in USD.",
    )
    oversold_quantity = models.DecimalField(
        **MONEY,
        default=0,
        help_text="Exit fills beyond what the group held: an anomaly, shown and alerted (never silently capped).",
    )

    # Swap accounts: the exchange's view of the position, refreshed by every positions read
    # (trading.services.exchange_positions); the last known values stay when a read does not give them.
    liquidation_price = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="The exchange's liquidation price of this position, last read."
    )
    margin_ratio = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="Maintenance margin / margin as the exchange last reported it."
    )
    positions_synced_at = models.DateTimeField(
        null=True, blank=True, help_text="When the exchange's positions were last compared with this group."
    )

    tp_mode = models.CharField(max_length=20, choices=TakeProfitMode.choices)
    tp_aggregate_percent = models.DecimalField(**MONEY, default=0)
    stop_loss_price = models.DecimalField(**MONEY, null=True, blank=True, help_text="Absolute stop from the signal.")

    risk_timer_start = models.DateTimeField(null=True, blank=True)
    risk_timer_expires = models.DateTimeField(null=True, blank=True)
    risk_eligible = models.BooleanField(default=False)
    risk_blocked = models.BooleanField(default=False)
    risk_skip_once = models.BooleanField(default=False)

    exit_reason = models.CharField(max_length=20, choices=ExitReason.choices, blank=True)
    status_reason = models.TextField(blank=True, help_text="Why the group failed or closed, in plain words.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    # Not a column: the market (tick and step; None when not loaded), set on the rows of the overview's
    # table by trading.views.
    market: "Market | None"

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "exchange", "symbol", "timeframe", "side"],
                condition=~Q(status__in=sorted(s.value for s in GROUP_TERMINAL_STATUSES)),
                name="uniq_active_position_group",
            ),
            models.CheckConstraint(condition=Q(side__in=Side.values), name="group_side_valid"),
            models.CheckConstraint(condition=Q(status__in=[s.value for s in GroupStatus]), name="group_status_valid"),
            models.CheckConstraint(condition=Q(max_pyramids__gte=1), name="group_max_pyramids_at_least_one"),
            models.CheckConstraint(
                condition=Q(pyramid_count__lte=F("max_pyramids")), name="group_pyramids_within_limit"
            ),
            models.CheckConstraint(
                condition=Q(filled_dca_legs__lte=F("total_dca_legs")), name="group_filled_legs_within_total"
            ),
            models.CheckConstraint(condition=Q(total_filled_quantity__gte=0), name="group_quantity_not_negative"),
            models.CheckConstraint(condition=Q(base_entry_price__gt=0), name="group_entry_price_positive"),
        ]
        indexes = [
            models.Index(fields=["user", "status"], name="group_user_status"),
            models.Index(fields=["exchange_account", "symbol", "status"], name="group_account_symbol_status"),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.exchange} {self.symbol} {self.timeframe}m ({self.status})"

    @property
    def label(self) -> str:
        """How pages, messages and the journal name the position: "long BTC/USDT 15m"."""
        return position_label(self.side, self.symbol, self.timeframe)

    @property
    def label_on_exchange(self) -> str:
        """The label where the exchange matters too: "long BTC/USDT 15m position on binance"."""
        return f"{self.label} position on {self.exchange}"

    @property
    def quote_currency(self) -> str:
        """The currency of the group's figures (``exchanges.currency``)."""
        return quote_of(self.symbol)


class Pyramid(models.Model):
    """One entry into a position group, with its own entry price and its own DCA grid."""

    Status = PyramidStatus  # the state machine: trading.states

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    group = models.ForeignKey(PositionGroup, on_delete=models.CASCADE, related_name="pyramids")
    index = models.PositiveSmallIntegerField(help_text="0 is the initial entry.")
    entry_price = models.DecimalField(**MONEY)
    status = models.CharField(max_length=20, choices=choices(PyramidStatus), default=PyramidStatus.PENDING)
    levels = models.JSONField(help_text="The ladder used for this pyramid's grid.")
    capital_usd = models.DecimalField(**MONEY)
    sizing = models.TextField(
        blank=True, help_text="Where this pyramid's size came from (the configuration or the alert), in plain words."
    )
    tp_percent = models.DecimalField(**MONEY, null=True, blank=True, help_text="Pyramid aggregate take-profit.")
    signal = models.ForeignKey(Signal, null=True, blank=True, on_delete=models.SET_NULL, related_name="pyramids")
    after_close_of = models.ForeignKey(
        PositionGroup,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="A reverse: this grid is placed only once that (opposite-side) group has closed.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    filled_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["group", "index"]
        constraints = [
            models.UniqueConstraint(fields=["group", "index"], name="uniq_pyramid_index"),
            models.CheckConstraint(condition=Q(entry_price__gt=0), name="pyramid_entry_price_positive"),
        ]

    def __str__(self) -> str:
        return f"pyramid {self.index + 1} of {self.group_id}"


class Order(models.Model):
    """One order we place on the exchange: a DCA entry leg, its take-profit, or a market exit.

    The row is committed (``pending``) before the exchange call; its client order id, derived from
    the primary key, goes to the exchange so a retried placement can never create a second order.
    """

    class Role(models.TextChoices):
        ENTRY = "entry", "Entry leg"
        TAKE_PROFIT = "take_profit", "Take-profit"
        EXIT = "exit", "Exit"

    class SlippageOutcome(models.TextChoices):
        WITHIN = "within", "Within limit"
        WARNED = "warned", "Over limit, warned"
        PROTECTED = "protected", "Over limit, limit-protected"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    group = models.ForeignKey(PositionGroup, on_delete=models.CASCADE, related_name="orders")
    pyramid = models.ForeignKey(Pyramid, null=True, blank=True, on_delete=models.CASCADE, related_name="orders")
    role = models.CharField(max_length=12, choices=Role.choices)
    leg_index = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Entry legs only.")
    entry_order = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="take_profits",
        help_text="The entry leg a take-profit closes.",
    )
    symbol = models.CharField(max_length=40)
    side = models.CharField(max_length=4, choices=OrderSide.choices)
    order_type = models.CharField(max_length=10, choices=OrderType.choices)
    price = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="Limit price; trigger price for a market leg."
    )
    quantity = models.DecimalField(**MONEY)
    status = models.CharField(max_length=20, choices=choices(OrderStatus), default=OrderStatus.PENDING)
    filled_quantity = models.DecimalField(**MONEY, default=0)
    avg_fill_price = models.DecimalField(**MONEY, null=True, blank=True)
    fee = models.DecimalField(**MONEY, default=0)
    fee_currency = models.CharField(max_length=16, blank=True)
    fee_rate = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        help_text="A fee paid in a third currency (BNB): its price in the quote currency when the fill was recorded.",
    )
    gap_percent = models.DecimalField(**MONEY, null=True, blank=True)
    weight_percent = models.DecimalField(**MONEY, null=True, blank=True)
    tp_percent = models.DecimalField(**MONEY, null=True, blank=True)
    tp_price = models.DecimalField(**MONEY, null=True, blank=True, help_text="Planned take-profit of an entry leg.")
    exit_reason = models.CharField(max_length=20, choices=ExitReason.choices, blank=True)
    decision_price = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="Price when a market order was decided."
    )
    slippage_percent = models.DecimalField(**MONEY, null=True, blank=True)
    slippage_outcome = models.CharField(max_length=10, choices=SlippageOutcome.choices, blank=True)
    client_order_id = models.CharField(max_length=36, unique=True, editable=False)
    exchange_order_id = models.CharField(max_length=128, blank=True, db_index=True)
    error_message = models.TextField(blank=True, help_text="The exchange's message when the order failed.")
    unknown_polls = models.PositiveSmallIntegerField(default=0, help_text="Sync cycles the exchange did not find it.")
    submitted_at = models.DateTimeField(null=True, blank=True)
    first_filled_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the exchange first reported a fill (the statistics replay orders entries by it).",
    )
    filled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_quantity_positive"),
            models.CheckConstraint(
                condition=Q(filled_quantity__gte=0) & Q(filled_quantity__lte=F("quantity")),
                name="order_filled_within_quantity",
            ),
            models.CheckConstraint(condition=Q(status__in=[s.value for s in OrderStatus]), name="order_status_valid"),
            models.CheckConstraint(
                condition=~Q(order_type=OrderType.LIMIT) | Q(price__gt=0), name="order_limit_has_price"
            ),
            models.CheckConstraint(
                condition=(Q(role="entry") & Q(leg_index__isnull=False) & Q(pyramid__isnull=False))
                | (~Q(role="entry") & Q(leg_index__isnull=True)),
                name="order_leg_index_only_on_entries",
            ),
            models.CheckConstraint(
                condition=~Q(role="take_profit") | Q(entry_order__isnull=False), name="order_take_profit_has_entry"
            ),
        ]
        indexes = [
            models.Index(fields=["group", "role", "status"], name="order_group_role_status"),
            models.Index(fields=["status", "symbol"], name="order_status_symbol"),
        ]

    def __str__(self) -> str:
        return f"{self.role} {self.side} {self.quantity} {self.symbol} @ {self.price} ({self.status})"

    def save(self, *args, **kwargs):
        if not self.client_order_id:
            self.client_order_id = client_order_id_for(self.id)
        super().save(*args, **kwargs)


class FundingPayment(models.Model):
    """A swap position's share of one funding payment the exchange booked: part of its group's realised PnL.

    One exchange payment is split over the groups of its account and symbol that held a position when it
    was paid (``trading.stats.split_funding``), one row per group (``part`` 0, 1, …); the parts of one
    payment are written together, so a payment seen twice (an exchange answering twice, or fetches that
    overlap) is recorded once: the unique constraint refuses its part 0 the second time.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    group = models.ForeignKey(PositionGroup, on_delete=models.CASCADE, related_name="funding_payments")
    exchange_account = models.ForeignKey(
        "exchanges.ExchangeAccount", on_delete=models.PROTECT, related_name="funding_payments"
    )
    symbol = models.CharField(max_length=40)
    exchange_payment_id = models.CharField(max_length=128, help_text="The exchange's id of the whole payment.")
    part = models.PositiveSmallIntegerField(default=0, help_text="This group's share of a payment split over several.")
    amount = models.DecimalField(
        **MONEY, help_text="This group's share; negative = paid by the trader, positive = received."
    )
    payment_amount = models.DecimalField(**MONEY, help_text="The whole payment, as the exchange booked it.")
    currency = models.CharField(max_length=16, blank=True)
    paid_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["paid_at", "part"]
        constraints = [
            models.UniqueConstraint(
                fields=["exchange_account", "symbol", "exchange_payment_id", "part"], name="uniq_funding_payment_part"
            ),
        ]
        indexes = [models.Index(fields=["exchange_account", "symbol", "paid_at"], name="funding_account_symbol_time")]

    def __str__(self) -> str:
        return f"funding {self.amount} {self.currency} on {self.symbol} at {self.paid_at:%Y-%m-%d %H:%M}"


def client_order_id_for(order_id: uuid.UUID) -> str:
    """prefix + the order's uuid in hex: at most 36 characters, [A-Za-z0-9] only."""
    return f"{settings.CLIENT_ORDER_ID_PREFIX}{order_id.hex}"


class QueuedSignal(models.Model):
    """An entry signal waiting for a pool slot. A newer signal for the same key replaces it."""

    Status = QueuedSignalStatus  # the state machine: trading.states

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="queued_signals")
    signal = models.ForeignKey(Signal, on_delete=models.CASCADE, related_name="queue_entries")
    exchange = models.CharField(max_length=32)
    symbol = models.CharField(max_length=40)
    timeframe = models.PositiveIntegerField()
    side = models.CharField(max_length=5, choices=Side.choices)
    entry_price = models.DecimalField(**MONEY)
    is_pyramid_continuation = models.BooleanField(default=False)
    replacement_count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=choices(QueuedSignalStatus), default=QueuedSignalStatus.QUEUED)
    status_reason = models.TextField(blank=True)
    queued_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    expires_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["queued_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "exchange", "symbol", "timeframe", "side"],
                condition=Q(status=QueuedSignalStatus.QUEUED.value),
                name="uniq_queued_signal_per_key",
            ),
            models.CheckConstraint(condition=Q(entry_price__gt=0), name="queued_entry_price_positive"),
        ]
        indexes = [models.Index(fields=["user", "status", "queued_at"], name="queue_user_status_time")]

    def __str__(self) -> str:
        return f"queued {self.side} {self.exchange} {self.symbol} {self.timeframe}m"

    @property
    def label(self) -> str:
        """The position it would open, named as the position will be: "long BTC/USDT 15m"."""
        return position_label(self.side, self.symbol, self.timeframe)


class EngineHeartbeat(models.Model):
    """When each process kind (worker, beat) last proved it was alive, for health and the dashboard."""

    name = models.CharField(max_length=32, primary_key=True)
    seen_at = models.DateTimeField()
    detail = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"{self.name} seen {self.seen_at:%Y-%m-%d %H:%M:%S}"


# --- The per-user settings row and the engine's journal (both were in the risk app) ------------------

PRIORITY_RULES = ("same_pair_timeframe", "deepest_loss_percent", "highest_replacement", "fifo_fallback")


def default_priority_rules() -> dict[str, bool]:
    return {rule: True for rule in PRIORITY_RULES}


# A trader's pool limits and risk engine settings, as the admin and the dashboard's form list them (the admin
# adds priority_rules to the pool's; the form shows one box per rule instead).
POOL_LIMIT_FIELDS = (
    "max_open_positions_global",
    "max_open_positions_per_symbol",
    "max_total_exposure_usd",
    "max_realized_loss_usd",
    "queue_ttl_minutes",
)
RISK_ENGINE_FIELDS = (
    "loss_threshold_percent",
    "required_pyramids_for_timer",
    "post_pyramids_wait_minutes",
    "max_winners_to_combine",
    "allow_partial_offset",
    "evaluate_on_fill",
    "evaluate_interval_seconds",
)


class RiskConfig(models.Model):
    """One trader's execution pool limits and risk engine settings (one row per user).

    Its row is also the lock that serialises the routing of that user's signals. The table keeps the
    name it had in the risk app (``risk_riskconfig``).
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="risk_config")
    # Execution pool
    max_open_positions_global = models.PositiveIntegerField(default=10)
    max_open_positions_per_symbol = models.PositiveIntegerField(default=1)
    max_total_exposure_usd = models.DecimalField(**MONEY, default=10000)
    max_realized_loss_usd = models.DecimalField(
        **MONEY, default=500, help_text="Daily realised loss that pauses new entries (circuit breaker)."
    )
    queue_ttl_minutes = models.PositiveIntegerField(default=60, help_text="Queued signals expire after this.")
    priority_rules = models.JSONField(
        default=default_priority_rules, help_text=f"Switch each promotion rule on or off: {', '.join(PRIORITY_RULES)}."
    )
    # Risk engine
    loss_threshold_percent = models.DecimalField(**MONEY, default=-1.5)
    required_pyramids_for_timer = models.PositiveSmallIntegerField(default=3)
    post_pyramids_wait_minutes = models.PositiveIntegerField(default=15)
    max_winners_to_combine = models.PositiveSmallIntegerField(default=3)
    allow_partial_offset = models.BooleanField(default=False)
    evaluate_on_fill = models.BooleanField(default=False)
    evaluate_interval_seconds = models.PositiveIntegerField(default=60)
    # Engine state
    engine_paused_by_loss_limit = models.BooleanField(default=False)
    engine_force_stopped = models.BooleanField(default=False)
    paused_at = models.DateTimeField(null=True, blank=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "risk_riskconfig"
        verbose_name = "risk configuration"
        constraints = [
            models.CheckConstraint(condition=Q(loss_threshold_percent__lt=0), name="risk_loss_threshold_negative"),
            models.CheckConstraint(condition=Q(max_total_exposure_usd__gt=0), name="risk_exposure_positive"),
            models.CheckConstraint(condition=Q(max_realized_loss_usd__gt=0), name="risk_max_loss_positive"),
            models.CheckConstraint(condition=Q(max_winners_to_combine__gte=1), name="risk_winners_at_least_one"),
            models.CheckConstraint(condition=Q(evaluate_interval_seconds__gte=5), name="risk_interval_at_least_5s"),
            models.CheckConstraint(condition=Q(max_open_positions_global__gte=1), name="risk_pool_at_least_one"),
        ]

    def __str__(self) -> str:
        return f"risk config of {self.user}"

    def clean(self) -> None:
        errors = {}
        rules = self.priority_rules
        if (
            not isinstance(rules, dict)
            or set(rules) - set(PRIORITY_RULES)
            or not all(isinstance(value, bool) for value in rules.values())
        ):
            errors["priority_rules"] = [
                "Give an object of true/false switches with these names only: " + ", ".join(PRIORITY_RULES)
            ]
        else:
            self.priority_rules = {rule: rules.get(rule, True) for rule in PRIORITY_RULES}
        if self.loss_threshold_percent is not None and self.loss_threshold_percent >= 0:
            errors["loss_threshold_percent"] = ["Use a negative percent, e.g. -1.5 for a 1.5 % loss."]
        if self.max_open_positions_per_symbol and self.max_open_positions_per_symbol > self.max_open_positions_global:
            errors["max_open_positions_per_symbol"] = ["Cannot exceed max_open_positions_global."]
        if self.evaluate_interval_seconds is not None and self.evaluate_interval_seconds < 5:
            errors["evaluate_interval_seconds"] = ["Evaluate at most every 5 seconds."]
        if errors:
            raise ValidationError(errors)


class JournalEntry(models.Model):
    """The engine's journal: one row for each thing the engine or a trader did to positions, with the numbers.

    Rows are written only by the named writers of ``trading.journal`` (one per kind). The numbers sit
    in columns; what else the wording needs sits in ``details``; ``summary`` is the human text, rendered
    from kind and fields by ``trading.journal_text``.
    """

    Kind = JournalKind
    WinnersState = WinnersState

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="journal_entries")
    kind = models.CharField(max_length=20, choices=JournalKind.choices)
    winners_state = models.CharField(
        max_length=12,
        choices=WinnersState.choices,
        blank=True,
        help_text="Loss offsets: the winners are reduced only once the loser's close has filled.",
    )
    group = models.ForeignKey(
        "trading.PositionGroup", null=True, blank=True, on_delete=models.SET_NULL, related_name="journal_entries"
    )
    loser_group = models.ForeignKey(
        "trading.PositionGroup", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    loser_pnl_usd = models.DecimalField(**MONEY, null=True, blank=True)
    required_usd = models.DecimalField(**MONEY, null=True, blank=True)
    winner_details = models.JSONField(
        default=list, blank=True, help_text="[{group_id, symbol, quantity_closed, pnl_usd, price}, …]"
    )
    exit_reason = models.CharField(max_length=20, choices=ExitReason.choices, blank=True)
    entry_price = models.DecimalField(**MONEY, null=True, blank=True)
    exit_price = models.DecimalField(**MONEY, null=True, blank=True)
    quantity_closed = models.DecimalField(**MONEY, null=True, blank=True)
    realized_pnl_usd = models.DecimalField(**MONEY, null=True, blank=True)
    pnl_percent = models.DecimalField(**MONEY, null=True, blank=True)
    duration_seconds = models.PositiveBigIntegerField(null=True, blank=True)
    details = models.JSONField(
        default=dict,
        blank=True,
        help_text="What the wording needs beyond the columns (symbol, side, who, …); numbers as strings.",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "journal entry"
        verbose_name_plural = "journal entries"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "kind", "created_at"], name="journal_user_kind_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def summary(self) -> str:
        """What happened, in the words the risk page, the API (``notes``) and the admin show."""
        return journal_text.summary(self)
