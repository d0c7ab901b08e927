"""The result of the trading app's background job (``trading.job_kinds``): the job kind stores it as its
job's result, and the API documents it as that job's ``result``. Below both, so neither imports the other
for it."""

from rest_framework import serializers


class QueuePromoteResultSerializer(serializers.Serializer):
    """What a manual promote did: the signal's new status and the engine's reason."""

    signal_id = serializers.UUIDField()
    status = serializers.CharField(
        help_text="The signal's status after routing: opened or pyramided on success; queued if the engine is "
        "force-stopped; rejected, ignored or failed with the reason."
    )
    reason = serializers.CharField()
    queue_status = serializers.CharField(help_text="The queue entry's status afterwards: promoted, or still queued.")
    position_group = serializers.UUIDField(
        allow_null=True, help_text="The position it opened or added a pyramid to; null when it opened nothing."
    )
