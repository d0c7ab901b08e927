"""The risk app's dashboard pages and partials (included at the site root by ``config.urls``)."""

from django.urls import path

from risk import views

urlpatterns = [
    path("partials/engine/", views.engine_partial, name="partial-engine"),
    path("partials/pool/", views.pool_partial, name="partial-pool"),
    path("engine/stop/", views.engine_stop, name="engine-stop"),
    path("engine/start/", views.engine_start, name="engine-start"),
    path("risk/", views.risk, name="risk"),
    path("risk/positions/<uuid:group_id>/<str:control>/", views.risk_control, name="risk-control"),
    path("settings/risk/", views.risk_config_edit, name="risk-config-edit"),
]
