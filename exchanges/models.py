"""Exchange records: trader accounts (keys encrypted at rest) and the paper exchange's book."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from core.fields import MONEY
from exchanges.encryption import EncryptedTextField
from exchanges.enums import OrderSide, OrderType

# An exchange account's settings as the admin, the dashboard's form and the API list them: which account,
# its keys (write-only, stored encrypted), and how the paper exchange trades on it.
ACCOUNT_FIELDS = ("exchange_id", "market_type", "label", "mode", "is_enabled")
KEY_FIELDS = ("api_key", "api_secret", "api_password")
PAPER_FIELDS = (
    "price_feed",
    "maker_fee_percent",
    "taker_fee_percent",
    "partial_fill_ratio",
    "market_slippage_percent",
    "starting_balance",
    "synthetic_seed",
)
# A label names one of a trader's accounts (an alert's execution_intent.account): the message when it is taken.
LABEL_TAKEN = "You already have an account with this label: a label names one account."


class ExchangeAccount(models.Model):
    """A trader's account on one exchange and one market type. ``tv.exchange`` of an alert names the exchange;
    which of the trader's accounts there trades it is ``exchanges.account_choice.choose_account``'s decision
    (a spot and a swap account may share one exchange; a non-empty ``label`` names one account).

    ``live`` and ``testnet`` trade through ccxt with the stored keys; ``paper`` trades against the
    database-backed paper exchange with the settings below and needs no keys.
    """

    class MarketType(models.TextChoices):
        SPOT = "spot", "Spot"
        SWAP = "swap", "Perpetual swap (USDT/USDC-margined)"

    class Mode(models.TextChoices):
        LIVE = "live", "Live"
        TESTNET = "testnet", "Testnet (sandbox)"
        PAPER = "paper", "Paper (dry run)"

    class PriceFeed(models.TextChoices):
        MANUAL = "manual", "Manual (set by command or API)"
        SYNTHETIC = "synthetic", "Synthetic random walk"
        LIVE = "live", "Live public tickers"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exchange_accounts")
    exchange_id = models.CharField(max_length=32, help_text="ccxt exchange id, lower case: binance, bybit, …")
    market_type = models.CharField(
        max_length=4,
        choices=MarketType.choices,
        default=MarketType.SPOT,
        help_text="spot: coins; swap: linear (USDT/USDC-margined) perpetuals. Inverse perpetuals are not supported.",
    )
    label = models.CharField(
        max_length=100,
        blank=True,
        help_text="Names this account: an alert's execution_intent.account picks it. Unique among your accounts.",
    )
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.PAPER)
    is_enabled = models.BooleanField(default=True)
    api_key = EncryptedTextField(blank=True, help_text="Write-only; stored encrypted.")
    api_secret = EncryptedTextField(blank=True, help_text="Write-only; stored encrypted.")
    api_password = EncryptedTextField(blank=True, help_text="Passphrase, for exchanges that use one.")
    # Paper settings
    price_feed = models.CharField(max_length=10, choices=PriceFeed.choices, default=PriceFeed.SYNTHETIC)
    maker_fee_percent = models.DecimalField(**MONEY, default="0.1")
    taker_fee_percent = models.DecimalField(**MONEY, default="0.1")
    partial_fill_ratio = models.DecimalField(
        **MONEY, default=1, help_text="Share of a crossed order filled per matching pass (1 = all)."
    )
    market_slippage_percent = models.DecimalField(**MONEY, default="0.05")
    starting_balance = models.DecimalField(**MONEY, default=10000, help_text="Quote currency (USDT).")
    synthetic_seed = models.PositiveIntegerField(default=42)
    # Operator settings (``manage.py paper dialect`` / ``paper fault``, see exchanges/paper/drills.py): not
    # editable, so no form, serializer or admin page built from the model can write them.
    paper_dialect = models.CharField(
        max_length=10,
        choices=[("plain", "Plain"), ("binance", "Binance"), ("bybit", "Bybit")],
        default="plain",
        editable=False,
        help_text="Operator setting (manage.py paper dialect): answer in a real exchange's shapes. binance: order "
        "queries carry no fee (only a spot placement answer does; the fee is in the order's trades), positions "
        "no leverage. bybit: placements and cancels answer with ids only, positions no margin mode. "
        "(exchanges.paper.connector: as_placed, as_queried, as_position.)",
    )
    paper_faults = models.JSONField(
        default=dict,
        blank=True,
        editable=False,
        help_text="Operator fault drills (manage.py paper fault, only where PAPER_FAULTS_ALLOWED): "
        '{"lose_answer_after_accept": 1, "kill_worker_after_accept": 1, "unavailable": 2} — each counts '
        "down per order placement.",
    )
    paper_position_mode = models.CharField(
        max_length=8,
        choices=[("one_way", "One-way"), ("hedge", "Hedge (a long and a short leg per symbol)")],
        default="one_way",
        help_text="A paper swap account's position mode (exchanges.paper.swaps.position_mode_set; refused while "
        "the account holds a position or an open order).",
    )
    # Swap accounts: what the exchange said and what the engine set (exchanges.services.derivatives).
    position_mode = models.CharField(
        max_length=8,
        blank=True,
        editable=False,
        help_text="one_way | hedge as the exchange last said (read at connect, daily, and after a refusal that "
        "says the mode is wrong); empty until read. Groups record it when they open.",
    )
    derivatives_settings = models.JSONField(
        default=dict,
        blank=True,
        editable=False,
        help_text='What the engine last set per symbol: {"BTC/USDT:USDT": {"leverage": 5, "margin_mode": '
        '"isolated"}}; set again only when an opening order needs other values.',
    )
    last_connection_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "exchange_id", "market_type"], name="uniq_exchange_account_per_user_market"
            ),
            models.UniqueConstraint(
                fields=["user", "label"],
                condition=~Q(label=""),
                name="uniq_exchange_account_label_per_user",
                violation_error_message=LABEL_TAKEN,
            ),
            models.CheckConstraint(
                condition=Q(partial_fill_ratio__gt=0) & Q(partial_fill_ratio__lte=1), name="account_partial_fill_ratio"
            ),
            models.CheckConstraint(
                condition=Q(maker_fee_percent__gte=0) & Q(taker_fee_percent__gte=0), name="account_fees_not_negative"
            ),
            models.CheckConstraint(condition=Q(starting_balance__gte=0), name="account_balance_not_negative"),
        ]

    def __str__(self) -> str:
        if self.market_type == self.MarketType.SWAP:
            return f"{self.exchange_id} swap ({self.mode})"
        return f"{self.exchange_id} ({self.mode})"

    @property
    def has_keys(self) -> bool:
        return bool(self.api_key and self.api_secret)

    def clean(self) -> None:
        self.exchange_id = (self.exchange_id or "").strip().lower()
        self.label = (self.label or "").strip()
        if self.mode != self.Mode.PAPER and not self.has_keys:
            raise ValidationError({"api_key": [f"A {self.mode} account needs an API key and secret."]})


class PaperMarket(models.Model):
    """A market the paper exchange trades, with the precision a real exchange would enforce.

    A linear perpetual (``BTC/USDT:USDT``, settled in its quote) has a ``contract_size`` in base units and
    lists ``step_size`` and ``min_qty`` in contracts, as the exchange does; the connector speaks base units.
    """

    exchange_id = models.CharField(max_length=32)
    symbol = models.CharField(max_length=40, help_text="Unified symbol, BTC/USDT.")
    market_id = models.CharField(max_length=40, help_text="Exchange's id, BTCUSDT.")
    base = models.CharField(max_length=20)
    quote = models.CharField(max_length=20)
    tick_size = models.DecimalField(**MONEY)
    step_size = models.DecimalField(**MONEY)
    min_qty = models.DecimalField(**MONEY, default=0)
    min_notional = models.DecimalField(**MONEY, default=0)
    reference_price = models.DecimalField(**MONEY, null=True, blank=True, help_text="Where a synthetic walk starts.")
    contract_size = models.DecimalField(
        **MONEY, default=1, help_text="Base units in one contract (swaps; 1 on spot). Step and min qty in contracts."
    )
    funding_rate = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        help_text="Operator override of a perpetual's funding rate per 8 h (0.0001 = 0.01 %); empty: "
        "settings.PAPER_FUNDING_RATE.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    @property
    def is_swap(self) -> bool:
        return ":" in self.symbol

    @property
    def settle(self) -> str:
        return self.symbol.split(":", 1)[1] if self.is_swap else ""

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["exchange_id", "symbol"], name="uniq_paper_market"),
            models.CheckConstraint(condition=Q(contract_size__gt=0), name="paper_market_contract_size_positive"),
            models.CheckConstraint(
                condition=Q(tick_size__gt=0) & Q(step_size__gt=0), name="paper_market_precision_positive"
            ),
        ]
        indexes = [models.Index(fields=["exchange_id", "market_id"], name="paper_market_id")]

    def __str__(self) -> str:
        return f"{self.exchange_id} {self.symbol}"


class PaperPrice(models.Model):
    """The paper exchange's current price for one market."""

    exchange_id = models.CharField(max_length=32)
    symbol = models.CharField(max_length=40)
    price = models.DecimalField(**MONEY)
    walk_step = models.PositiveBigIntegerField(default=0, help_text="Steps the synthetic walk has taken.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["exchange_id", "symbol"], name="uniq_paper_price"),
            models.CheckConstraint(condition=Q(price__gt=0), name="paper_price_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.exchange_id} {self.symbol} {self.price}"


class PaperAccountPrice(models.Model):
    """A price one paper account set for one market (``POST /api/v1/paper/prices``): its own book.

    While it exists, that account's ticker and matching use it instead of the shared ``PaperPrice``,
    which the feeds and the operator's ``paper price`` keep moving for everyone else; deleting it
    puts the account back on the shared price. Another trader's price never reaches this account.
    """

    account = models.ForeignKey(ExchangeAccount, on_delete=models.CASCADE, related_name="paper_prices")
    symbol = models.CharField(max_length=40)
    price = models.DecimalField(**MONEY)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "symbol"], name="uniq_paper_account_price"),
            models.CheckConstraint(condition=Q(price__gt=0), name="paper_account_price_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.symbol} {self.price} (own price)"


class PaperBalance(models.Model):
    """One asset of a paper account: free to use, and held by open orders."""

    account = models.ForeignKey(ExchangeAccount, on_delete=models.CASCADE, related_name="paper_balances")
    asset = models.CharField(max_length=20)
    free = models.DecimalField(**MONEY, default=0)
    used = models.DecimalField(**MONEY, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "asset"], name="uniq_paper_balance"),
            models.CheckConstraint(condition=Q(free__gte=0) & Q(used__gte=0), name="paper_balance_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.asset} {self.free} free, {self.used} used"


class PaperOrder(models.Model):
    """An order resting on (or done by) the paper exchange, as a real exchange would hold it.

    On a swap market ``amount``, ``filled`` and the fills' amounts count contracts, and ``margin_held`` is the
    settle asset an open order holds for the position it may open (margin and fee, ``exchanges.paper.swaps``).
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed (filled)"
        CANCELED = "canceled", "Canceled"

    account = models.ForeignKey(ExchangeAccount, on_delete=models.CASCADE, related_name="paper_orders")
    exchange_id = models.CharField(max_length=32, help_text="Copied from the account to index matching.")
    symbol = models.CharField(max_length=40)
    client_order_id = models.CharField(max_length=36)
    side = models.CharField(max_length=4, choices=OrderSide.choices)
    order_type = models.CharField(max_length=10, choices=OrderType.choices)
    price = models.DecimalField(**MONEY, null=True, blank=True)
    amount = models.DecimalField(**MONEY)
    filled = models.DecimalField(**MONEY, default=0)
    average = models.DecimalField(**MONEY, null=True, blank=True)
    cost = models.DecimalField(**MONEY, default=0)
    fee = models.DecimalField(**MONEY, default=0)
    fee_currency = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    reduce_only = models.BooleanField(default=False)
    position_side = models.CharField(max_length=5, blank=True, help_text="long | short: a hedge-mode order's leg.")
    margin_held = models.DecimalField(**MONEY, default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # Binance refuses a client order id only while an order with it is open (then accepts it
            # again); the other dialects refuse any reuse (checked under a lock in paper_order_create).
            models.UniqueConstraint(
                fields=["account", "client_order_id"],
                condition=Q(status="open"),
                name="uniq_open_paper_client_order_id",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="paper_order_amount_positive"),
            models.CheckConstraint(
                condition=Q(filled__gte=0) & Q(filled__lte=F("amount")), name="paper_order_filled_within_amount"
            ),
        ]
        indexes = [
            # One price update on one symbol matches only that symbol's open orders, by side and price.
            models.Index(fields=["exchange_id", "symbol", "status", "side", "price"], name="paper_order_matching"),
            models.Index(fields=["account", "symbol", "status"], name="paper_order_account_symbol"),
        ]

    def __str__(self) -> str:
        return f"paper {self.side} {self.amount} {self.symbol} @ {self.price} ({self.status})"


class PaperFill(models.Model):
    """One execution of a paper order: price, amount, fee."""

    order = models.ForeignKey(PaperOrder, on_delete=models.CASCADE, related_name="fills")
    price = models.DecimalField(**MONEY)
    amount = models.DecimalField(**MONEY)
    fee = models.DecimalField(**MONEY, default=0)
    fee_currency = models.CharField(max_length=20, blank=True)
    is_maker = models.BooleanField(default=True)
    realized_pnl = models.DecimalField(**MONEY, default=0, help_text="Swaps: the PnL this fill realised (fee apart).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="paper_fill_amount_positive")]

    def __str__(self) -> str:
        return f"fill {self.amount} @ {self.price}"


class PaperLeverage(models.Model):
    """The leverage and margin mode a paper swap account trades one symbol with (set through the connector)."""

    account = models.ForeignKey(ExchangeAccount, on_delete=models.CASCADE, related_name="paper_leverages")
    symbol = models.CharField(max_length=40)
    leverage = models.PositiveIntegerField(default=1)
    margin_mode = models.CharField(
        max_length=8, choices=[("isolated", "Isolated"), ("cross", "Cross")], default="isolated"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "symbol"], name="uniq_paper_leverage"),
            models.CheckConstraint(condition=Q(leverage__gte=1) & Q(leverage__lte=125), name="paper_leverage_range"),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.symbol} {self.leverage}x {self.margin_mode}"


class PaperPosition(models.Model):
    """An open paper swap position: one per (account, symbol) in one-way mode (``position_side`` empty), one per
    leg (long | short) in hedge mode. ``contracts`` is positive; ``side`` says long or short. ``margin`` is the
    isolated margin it holds (part of the settle asset's ``used`` balance). A position that reaches zero is
    deleted."""

    account = models.ForeignKey(ExchangeAccount, on_delete=models.CASCADE, related_name="paper_positions")
    symbol = models.CharField(max_length=40)
    position_side = models.CharField(max_length=5, blank=True)
    side = models.CharField(max_length=5, choices=[("long", "Long"), ("short", "Short")])
    contracts = models.DecimalField(**MONEY)
    entry_price = models.DecimalField(**MONEY)
    leverage = models.PositiveIntegerField()
    margin_mode = models.CharField(max_length=8)
    margin = models.DecimalField(**MONEY)
    realized_pnl = models.DecimalField(**MONEY, default=0)
    funding_settled_at = models.DateTimeField(
        default=timezone.now,
        help_text="Funding is settled for every funding instant up to here (exchanges.paper.funding).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "symbol", "position_side"], name="uniq_paper_position"),
            models.CheckConstraint(condition=Q(contracts__gt=0) & Q(margin__gte=0), name="paper_position_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.symbol} {self.side} {self.contracts} @ {self.entry_price}"


class PaperFunding(models.Model):
    """One funding payment of a paper swap position at one funding instant (00:00, 08:00, 16:00 UTC):
    ``amount`` is signed (negative = paid by the trader) and moved the settle asset's balance
    (``exchanges.paper.funding``). One row per (account, symbol, position side, instant): settled once."""

    account = models.ForeignKey(ExchangeAccount, on_delete=models.CASCADE, related_name="paper_fundings")
    symbol = models.CharField(max_length=40)
    position_side = models.CharField(max_length=5, blank=True, help_text="long | short in hedge mode, else empty.")
    side = models.CharField(max_length=5, choices=[("long", "Long"), ("short", "Short")])
    funding_time = models.DateTimeField()
    rate = models.DecimalField(**MONEY)
    price = models.DecimalField(**MONEY, help_text="The paper price the notional was counted at.")
    contracts = models.DecimalField(**MONEY)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=20, default="USDT")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "symbol", "position_side", "funding_time"], name="uniq_paper_funding"
            ),
        ]
        indexes = [models.Index(fields=["account", "symbol", "funding_time"], name="paper_funding_account_symbol")]

    def __str__(self) -> str:
        return f"{self.account} {self.symbol} {self.side} funding {self.amount} at {self.funding_time}"


class AccountBalance(models.Model):
    """The last balance read from an exchange account and what it was worth then: one row per account.

    Written by a worker (``exchanges.services.balances``), never in a web request; pages show it with
    its age. A failed read keeps the last good figures and records the error beside them, so the trader
    sees both what was last known and why it is not newer.
    """

    account = models.OneToOneField(
        ExchangeAccount, on_delete=models.CASCADE, primary_key=True, related_name="balance_snapshot"
    )
    holdings = models.JSONField(
        default=list,
        blank=True,
        help_text=(
            '[{"asset", "free", "used", "usd_price", "usd_value"}] as strings, most valuable first '
            "(exchanges.equity.Holding)."
        ),
    )
    equity_usd = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="What the priced holdings were worth in USD."
    )
    unpriced_assets = models.JSONField(
        default=list, blank=True, help_text="Assets held but left out of the equity: no <asset>/USDT price."
    )
    fetched_at = models.DateTimeField(null=True, blank=True, help_text="When the figures above were read.")
    error = models.TextField(blank=True, help_text="Why the last refresh failed (empty when it succeeded).")
    error_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"balance of {self.account_id} at {self.fetched_at}"
