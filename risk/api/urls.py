"""Risk endpoints under /api/v1/risk/. Each path takes an optional trailing slash (PUT and POST cannot
follow APPEND_SLASH's redirect).

``<group_id>`` is a position group's UUID; one that is not the requesting user's answers 404.
"""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from risk.api.views import (
    EngineForceStartView,
    EngineForceStopView,
    ExchangeSyncView,
    GroupBlockView,
    GroupSkipView,
    GroupUnblockView,
    RiskActionViewSet,
    RiskConfigView,
    RiskStatusView,
    RunEvaluationView,
)

GROUP_ID = r"(?P<group_id>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"


def _route(pattern: str, view, name: str):
    return re_path(rf"^{pattern}/?$", view.as_view(), name=name)


router = SimpleRouter()
router.register("actions", RiskActionViewSet, basename="risk-action")

urlpatterns = [
    _route("config", RiskConfigView, "risk-config"),
    _route("force-stop", EngineForceStopView, "risk-force-stop"),
    _route("force-start", EngineForceStartView, "risk-force-start"),
    _route("status", RiskStatusView, "risk-status"),
    _route("run-evaluation", RunEvaluationView, "risk-run-evaluation"),
    _route("sync-exchange", ExchangeSyncView, "risk-sync-exchange"),
    _route(f"{GROUP_ID}/block", GroupBlockView, "risk-group-block"),
    _route(f"{GROUP_ID}/unblock", GroupUnblockView, "risk-group-unblock"),
    _route(f"{GROUP_ID}/skip", GroupSkipView, "risk-group-skip"),
    *router.urls,
]
