"""The results of the exchanges app's background jobs (``exchanges.job_kinds``): the job kind stores one as
its job's result, and the API documents it as that job's ``result``. Below both, so neither imports the other
for it."""

from rest_framework import serializers


class ConnectionCheckSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    balances = serializers.DictField(child=serializers.DecimalField(max_digits=28, decimal_places=12))
    error = serializers.CharField()


class BalanceRefreshResultSerializer(serializers.Serializer):
    """What a balance refresh read (the figures are in GET …/balance/)."""

    account = serializers.IntegerField()
    equity_usd = serializers.DecimalField(max_digits=28, decimal_places=12)
