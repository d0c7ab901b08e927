"""``/healthz``: is the database answering, is the broker answering, when did worker and beat last run,
and how many positions carry an anomaly (an over-sell) an operator must look at.

Anyone may ask, so the public answer says only which part is down (``"database": "down"``). Why —
the error with its host and port — is for operators: a staff session, or a monitor sending
``Authorization: Bearer <HEALTHZ_TOKEN>``, gets it under ``details``; it is logged too.
"""

import hmac
import logging

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone

from config.celery import app as celery_app

logger = logging.getLogger(__name__)


def _database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return True, "ok"
    except Exception as exc:  # any failure means "not healthy"; the message says which
        return False, f"{type(exc).__name__}: {exc}"


def _broker_ok() -> tuple[bool, str]:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True, "ok"
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"


def _heartbeats() -> dict[str, str | None]:
    from trading.models import EngineHeartbeat

    try:
        seen = {beat.name: beat.seen_at for beat in EngineHeartbeat.objects.all()}
    except Exception:
        seen = {}
    now = timezone.now()
    return {
        name: (f"{(now - seen[name]).total_seconds():.0f}s ago" if name in seen else None)
        for name in ("worker", "beat")
    }


def _anomalies() -> dict[str, int]:
    """Counts an operator must look at: positions whose exits sold more than they held."""
    from trading.models import PositionGroup

    try:
        return {"oversold_positions": PositionGroup.objects.filter(oversold_quantity__gt=0).count()}
    except Exception:
        return {}


def _may_see_details(request) -> bool:
    token = settings.HEALTHZ_TOKEN
    sent = request.headers.get("Authorization", "")
    if token and sent.startswith("Bearer ") and hmac.compare_digest(sent[len("Bearer ") :].encode(), token.encode()):
        return True
    try:
        return request.user.is_staff  # a session lookup: the database may be the part that is down
    except Exception:
        return False


def healthz(request):
    database_ok, database = _database_ok()
    broker_ok, broker = _broker_ok()
    healthy = database_ok and broker_ok
    body = {
        "status": "ok" if healthy else "unhealthy",
        "database": "ok" if database_ok else "down",
        "broker": "ok" if broker_ok else "down",
        "last_seen": _heartbeats() if database_ok else {},
        "anomalies": _anomalies() if database_ok else {},
    }
    if not healthy:
        logger.warning("healthz: database %s; broker %s", database, broker)
    if _may_see_details(request):
        body["details"] = {"database": database, "broker": broker}
    return JsonResponse(body, status=200 if healthy else 503)
