from django.urls import re_path
from rest_framework.routers import SimpleRouter

from exchanges.api.views import ExchangeAccountViewSet, PaperMarketsView, PaperPricesView

router = SimpleRouter()
router.register("exchange-accounts", ExchangeAccountViewSet, basename="exchange-account")

urlpatterns = [
    re_path(r"^paper/prices/?$", PaperPricesView.as_view(), name="paper-prices"),
    re_path(r"^paper/markets/?$", PaperMarketsView.as_view(), name="paper-markets"),
    *router.urls,
]
