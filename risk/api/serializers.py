from rest_framework import serializers

from risk.models import RiskConfig
from risk.services import RISK_CONFIG_READ_ONLY


class RiskConfigSerializer(serializers.ModelSerializer):
    """The trader's execution pool limits, queue and risk engine settings.

    loss_threshold_percent is negative (-1.5 = a 1.5 % loss); max_open_positions_per_symbol cannot
    exceed max_open_positions_global; priority_rules switches the queue's promotion rules on or off.
    The engine's state is read-only here: use POST /api/v1/risk/force-stop/ and /force-start/.
    """

    # Types are checked here; the rules (RiskConfig.clean()) by risk.services.risk_config_update.
    # engine_force_stopped is read-only so that every stop and start leaves a RiskAction and a start
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
