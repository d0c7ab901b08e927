"""Telegram endpoints under /api/v1/telegram/ (trailing slash optional: PUT and POST cannot follow
APPEND_SLASH's redirect)."""

from django.urls import re_path

from notifications.api.views import TelegramConfigView, TelegramTestView

urlpatterns = [
    re_path(r"^config/?$", TelegramConfigView.as_view(), name="telegram-config"),
    re_path(r"^test/?$", TelegramTestView.as_view(), name="telegram-test"),
]
