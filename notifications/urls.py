"""The notifications app's dashboard pages (included at the site root by ``config.urls``)."""

from django.urls import path

from notifications import views

urlpatterns = [
    path("settings/telegram-test/", views.telegram_test, name="telegram-test"),
    path("settings/telegram/", views.telegram_config_edit, name="telegram-edit"),
]
