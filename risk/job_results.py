"""The results of the risk app's background jobs (``risk.job_kinds``): the job kind stores one as its job's
result, and the API documents it as that job's ``result``; the API's risk status reuses the loser and winner
shapes. Below both, so neither imports the other for them."""

from rest_framework import serializers

from trading.models import PositionGroup


# Decimals as the model fields store them (28 digits, 12 places), so a figure reads the same here as in
# /api/v1/positions/.
def money(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=28, decimal_places=12, **kwargs)


class EvaluatedLoserSerializer(serializers.Serializer):
    """The position chosen as the loser, and the loss the winners must pay for."""

    id = serializers.UUIDField()
    exchange = serializers.CharField()
    symbol = serializers.CharField()
    timeframe = serializers.IntegerField()
    side = serializers.CharField()
    required_usd = money(
        help_text="The loss the winners must pay for: the loser's unrealised loss, as a positive number."
    )


class EvaluatedWinnerSerializer(serializers.Serializer):
    """How much of one winner the offset closes, and the profit that realises."""

    id = serializers.UUIDField()
    symbol = serializers.CharField()
    side = serializers.CharField()
    quantity = money(help_text="Market-closed, rounded up to the lot size so the loss is covered.")
    profit_usd = money(help_text="Profit realised by closing that quantity.")


class EvaluationPositionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    symbol = serializers.CharField()
    side = serializers.CharField()
    eligible = serializers.BooleanField()
    reason = serializers.CharField(allow_null=True, help_text="Why it could not be the loser; null when it could.")


class EvaluationSerializer(serializers.Serializer):
    """The outcome of one risk evaluation: timers stepped, and the offset executed or why not."""

    executed = serializers.BooleanField(help_text="Loser and winner closes were dispatched to the worker.")
    reason = serializers.CharField()
    loser = EvaluatedLoserSerializer(
        allow_null=True, help_text="The position closed (or waiting to be) as the loser; null when none was eligible."
    )
    winners = EvaluatedWinnerSerializer(many=True)
    required_usd = money()
    covered_usd = money()
    timer_events = serializers.IntegerField(help_text="Timers started, expired or reset by this evaluation.")
    positions = EvaluationPositionSerializer(many=True)


class SymbolSyncSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    groups_changed = serializers.IntegerField(help_text="Positions whose orders changed (fills, cancels).")
    error = serializers.CharField(help_text="The exchange's error; empty when the symbol synced.")


class AccountSyncSerializer(serializers.Serializer):
    account_id = serializers.IntegerField(source="account.pk")
    exchange = serializers.CharField(source="account.exchange_id")
    label = serializers.CharField(source="account.label")
    mode = serializers.CharField(source="account.mode")
    ok = serializers.BooleanField()
    symbols = SymbolSyncSerializer(many=True, help_text="Each symbol with live orders: fills read and applied.")
    symbols_priced = serializers.IntegerField(help_text="Symbols whose current price was read and applied.")
    error = serializers.CharField(help_text="The exchange's error for the account or its prices; empty when none.")


class ExchangeSyncSerializer(serializers.Serializer):
    accounts = AccountSyncSerializer(many=True, help_text="Every enabled exchange account of the trader.")


def loser_body(group: PositionGroup, required_usd) -> dict:
    """The loser as the status and the evaluation report it."""
    return {
        "id": group.pk,
        "exchange": group.exchange,
        "symbol": group.symbol,
        "timeframe": group.timeframe,
        "side": group.side,
        "required_usd": required_usd,
    }
