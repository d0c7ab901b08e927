from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config.health import healthz
from trading.api.auth import AuthTokenView

api_v1 = [
    # Trailing slash optional: a POST cannot follow APPEND_SLASH's redirect.
    re_path(r"^auth/token/?$", AuthTokenView.as_view(), name="auth-token"),
    path("", include("exchanges.api.urls")),
    path("", include("trading.api.urls")),
    path("risk/", include("risk.api.urls")),
    path("telegram/", include("notifications.api.urls")),
    path("", include("jobs.api.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("webhooks/", include("trading.webhook.urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Its start-up script is a request of its own, not inline: the Content-Security-Policy allows no inline script.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="api_docs.html"),
        name="api-docs",
    ),
    # The dashboard: each app's pages at the site root.
    path("", include("trading.urls")),
    path("", include("risk.urls")),
    path("", include("exchanges.urls")),
    path("", include("notifications.urls")),
]
