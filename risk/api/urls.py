"""Risk endpoints under /api/v1/risk/. Each path takes an optional trailing slash (PUT and POST cannot
follow APPEND_SLASH's redirect).

Room is left for the rest of the risk API (DESIGN §3): ``status``, ``run-evaluation``,
``<group_id>/block|unblock|skip``, ``sync-exchange`` as more ``_route`` lines, and ``actions`` as a
read-only viewset registered on ``router``.
"""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from risk.api.views import EngineForceStartView, EngineForceStopView, RiskConfigView


def _route(pattern: str, view, name: str):
    return re_path(rf"^{pattern}/?$", view.as_view(), name=name)


router = SimpleRouter()

urlpatterns = [
    _route("config", RiskConfigView, "risk-config"),
    _route("force-stop", EngineForceStopView, "risk-force-stop"),
    _route("force-start", EngineForceStartView, "risk-force-start"),
    *router.urls,
]
