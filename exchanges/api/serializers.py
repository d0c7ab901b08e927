from collections.abc import Mapping

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from core.api.serializers import NulFreeModelSerializer
from exchanges.models import (
    ACCOUNT_FIELDS,
    KEY_FIELDS,
    LABEL_TAKEN,
    PAPER_FIELDS,
    ExchangeAccount,
    PaperMarket,
)

# Operator settings of a paper account (exchanges/paper/drills.py): a request naming one is refused as a
# whole, so a trader learns it did nothing instead of reading a 200 that ignored it.
OPERATOR_FIELDS = {
    "paper_faults": "Fault drills are set by an operator with `python manage.py paper fault <account-id> …`, "
    "never through the API: remove paper_faults from the request.",
    "paper_dialect": "The paper answer dialect is set by an operator with `python manage.py paper dialect "
    "<account-id> <plain|binance|bybit>`: remove paper_dialect from the request.",
}


class ExchangeAccountSerializer(NulFreeModelSerializer):
    """Keys are write-only: sent to set them, never returned; omitted or empty keeps what is stored."""

    api_key = serializers.CharField(write_only=True, required=False, allow_blank=True, trim_whitespace=True)
    api_secret = serializers.CharField(write_only=True, required=False, allow_blank=True, trim_whitespace=True)
    api_password = serializers.CharField(write_only=True, required=False, allow_blank=True, trim_whitespace=True)
    has_keys = serializers.BooleanField(read_only=True)

    class Meta:
        model = ExchangeAccount
        fields = (
            "id",
            *ACCOUNT_FIELDS,
            *KEY_FIELDS,
            "has_keys",
            *PAPER_FIELDS,
            "last_connection_error",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("last_connection_error", "created_at", "updated_at")

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            refused = {name: [message] for name, message in OPERATOR_FIELDS.items() if name in data}
            if refused:
                raise serializers.ValidationError(refused)
        return super().to_internal_value(data)

    def validate_exchange_id(self, value: str) -> str:
        return value.strip().lower()

    def validate_market_type(self, value: str) -> str:
        if self.instance is not None and value != self.instance.market_type:
            # Its positions are spot holdings or perpetual positions: the other market type is another account.
            raise serializers.ValidationError(
                f"Fixed once the account exists (this one trades {self.instance.market_type}): add another "
                f"account on {self.instance.exchange_id} for {value}."
            )
        return value

    def validate(self, attrs):
        for name in KEY_FIELDS:
            if not attrs.get(name):
                attrs.pop(name, None)  # keep the stored key
        account = self.instance or ExchangeAccount(user=self.context["request"].user)
        probe = ExchangeAccount(**{f.name: getattr(account, f.name) for f in ExchangeAccount._meta.concrete_fields})
        for name, value in attrs.items():
            setattr(probe, name, value)
        try:
            probe.full_clean(exclude=["user"], validate_unique=False)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        others = ExchangeAccount.objects.filter(user=account.user_id)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.filter(exchange_id=probe.exchange_id, market_type=probe.market_type).exists():
            raise serializers.ValidationError(
                {
                    "market_type": [
                        f"You already have a {probe.exchange_id} {probe.market_type} account; edit that one "
                        f"(a second account on {probe.exchange_id} trades the other market type)."
                    ]
                }
            )
        if probe.label and others.filter(label=probe.label).exists():
            raise serializers.ValidationError({"label": [LABEL_TAKEN]})
        if "label" in attrs:
            attrs["label"] = probe.label  # as clean() stripped it
        if probe.mode != ExchangeAccount.Mode.PAPER:
            if problem := ccxt_account_problem(probe.exchange_id, probe.mode):
                raise serializers.ValidationError(problem)
        return attrs


def ccxt_account_problem(exchange_id: str, mode: str) -> dict | None:
    """Why ccxt cannot trade ``exchange_id`` in ``mode`` (live or testnet), as field errors; None if it can.

    Checked when the account is saved, so the trader hears it then rather than from the first signal.
    A testnet needs ccxt's sandbox URLs, which many exchanges lack (kraken, kucoin, bitstamp, …).
    """
    import ccxt  # only here: the paper engine never needs it

    from exchanges.ccxt.transport import has_testnet, no_testnet_message

    if exchange_id not in ccxt.exchanges:
        return {
            "exchange_id": [
                f"ccxt has no exchange {exchange_id!r}: use its ccxt id (binance, bybit, okx, …), "
                f"or mode paper for a dry run."
            ]
        }
    if mode == ExchangeAccount.Mode.TESTNET and not has_testnet(getattr(ccxt, exchange_id)()):
        return {"mode": [no_testnet_message(exchange_id)]}
    return None


class HoldingSerializer(serializers.Serializer):
    """One asset of an account's balance and what it was worth (``exchanges.equity.Holding``)."""

    asset = serializers.CharField()
    free = serializers.DecimalField(max_digits=40, decimal_places=12)
    used = serializers.DecimalField(max_digits=40, decimal_places=12, help_text="Held by open orders.")
    usd_price = serializers.DecimalField(
        max_digits=40,
        decimal_places=12,
        allow_null=True,
        help_text="1 for a USD stablecoin, else the last <asset>/USDT price; null: "
        "the exchange has no such price (not counted in the equity).",
    )
    usd_value = serializers.DecimalField(max_digits=40, decimal_places=12, allow_null=True)


class AccountBalanceSerializer(serializers.Serializer):
    """An account's balance and USD equity as a worker last read them (never read: nulls and no holdings)."""

    account = serializers.IntegerField(source="account_id")
    equity_usd = serializers.DecimalField(
        max_digits=28,
        decimal_places=12,
        allow_null=True,
        help_text="Every asset held (free and in open orders): USD stablecoins one for one, the rest at the last "
        "<asset>/USDT price on the same exchange; assets without one are left out (unpriced_assets).",
    )
    holdings = HoldingSerializer(many=True)
    unpriced_assets = serializers.ListField(child=serializers.CharField())
    fetched_at = serializers.DateTimeField(allow_null=True, help_text="When the figures were read.")
    error = serializers.CharField(help_text="Why the last refresh failed (the figures are then older); empty if not.")
    error_at = serializers.DateTimeField(allow_null=True)


class PaperPriceSerializer(serializers.Serializer):
    """A price one of the trader's paper accounts trades at (``exchanges.paper.selectors.PaperQuote``)."""

    exchange = serializers.CharField(source="exchange_id")
    symbol = serializers.CharField()
    price = serializers.DecimalField(max_digits=28, decimal_places=12)
    updated_at = serializers.DateTimeField()
    scope = serializers.SerializerMethodField(
        help_text="account: your account's own price (set here; the shared feeds do not move it); shared: the "
        "exchange's price, moved by the live or synthetic feed and the operator"
    )

    def get_scope(self, quote) -> str:
        return "account" if quote.own else "shared"


class PaperPriceInputSerializer(serializers.Serializer):
    exchange = serializers.CharField()
    symbol = serializers.CharField(help_text="BTC/USDT, or a TradingView form such as BTCUSDT")
    price = serializers.DecimalField(max_digits=28, decimal_places=12, min_value=0)


class PaperPriceResultSerializer(serializers.Serializer):
    exchange = serializers.CharField()
    symbol = serializers.CharField()
    price = serializers.DecimalField(
        max_digits=28,
        decimal_places=12,
        allow_null=True,
        help_text="the price your account now trades at (null: no shared price yet)",
    )
    filled_orders = serializers.IntegerField(help_text="your orders filled at that price, at once")


class PaperMarketSerializer(serializers.ModelSerializer):
    exchange = serializers.CharField(source="exchange_id")

    class Meta:
        model = PaperMarket
        fields = (
            "exchange",
            "symbol",
            "market_id",
            "base",
            "quote",
            "tick_size",
            "step_size",
            "min_qty",
            "min_notional",
            "reference_price",
            "updated_at",
        )
        read_only_fields = ("market_id", "base", "quote", "updated_at")
        validators: list = []  # upsert: an existing (exchange, symbol) is edited, not refused
