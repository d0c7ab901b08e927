import socket

from django.utils import timezone

from trading.models import EngineHeartbeat


def heartbeat_record(*, names: tuple[str, ...]) -> None:
    """Mark each named process kind as seen now (the task that calls this ran on a worker)."""
    now = timezone.now()
    for name in names:
        EngineHeartbeat.objects.update_or_create(name=name, defaults={"seen_at": now, "detail": socket.gethostname()})
