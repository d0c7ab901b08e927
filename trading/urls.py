"""The trading app's dashboard pages, their live partials and their forms (all login-required, forms POST with
CSRF). The risk, exchange account and Telegram pages are in ``risk.urls``, ``exchanges.urls`` and
``notifications.urls``."""

from django.contrib.auth import views as auth_views
from django.urls import path

from trading import views

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(template_name="registration/login.html"), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(next_page="login"), name="logout"),
    path("", views.overview, name="overview"),
    path("partials/positions/", views.positions_partial, name="partial-positions"),
    path("partials/jobs/<uuid:job_id>/", views.job_partial, name="partial-job"),
    path("positions/<uuid:group_id>/", views.position_detail, name="position-detail"),
    path("positions/<uuid:group_id>/partial/", views.position_partial, name="partial-position"),
    path("positions/<uuid:group_id>/chart/", views.position_chart, name="position-chart"),
    path("positions/<uuid:group_id>/close/", views.position_close, name="position-close"),
    path("trades/", views.trades, name="trades"),
    path("trades/export.csv", views.trades_csv, name="trades-csv"),
    path("queue/", views.queue, name="queue"),
    path("queue/<uuid:entry_id>/remove/", views.queue_remove, name="queue-remove"),
    path("queue/<uuid:entry_id>/promote/", views.queue_promote_entry, name="queue-promote"),
    path("signals/", views.signals, name="signals"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/rotate-secret/", views.rotate_secret, name="rotate-secret"),
    path("settings/dca/new/", views.dca_config_create, name="dca-config-create"),
    path("settings/dca/preview/", views.dca_config_preview, name="dca-config-preview"),
    path("settings/dca/<int:config_id>/", views.dca_config_edit, name="dca-config-edit"),
    path("settings/dca/<int:config_id>/delete/", views.dca_config_delete, name="dca-config-delete"),
]
