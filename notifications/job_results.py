"""The result of the notifications app's background job (``notifications.job_kinds``): the job kind stores it
as its job's result, and the API documents it as that job's ``result``. Below both, so neither imports the
other for it."""

from rest_framework import serializers


class TelegramTestResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    status_code = serializers.IntegerField(allow_null=True)
    description = serializers.CharField(allow_blank=True)
    message_id = serializers.IntegerField(allow_null=True)
