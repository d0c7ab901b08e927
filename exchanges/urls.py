"""The exchanges app's dashboard pages and partials (included at the site root by ``config.urls``)."""

from django.urls import path

from exchanges import views

urlpatterns = [
    path("partials/balances/", views.balances_partial, name="partial-balances"),
    path("balances/<int:account_id>/refresh/", views.balance_refresh, name="balance-refresh"),
    path("settings/exchange-accounts/new/", views.exchange_account_create, name="exchange-account-create"),
    path("settings/exchange-accounts/<int:account_id>/", views.exchange_account_edit, name="exchange-account-edit"),
    path(
        "settings/exchange-accounts/<int:account_id>/test/", views.exchange_account_test, name="exchange-account-test"
    ),
]
