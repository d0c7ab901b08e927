"""Webhook URLs, mounted under ``/webhooks/``: ``<user_uuid>/tradingview`` with or without the slash.

The user id is matched as any path segment, not as ``<uuid:…>``: a malformed id must get the same
403 as an unknown user or a wrong secret, not a 404 that tells them apart.
"""

import os

from django.urls import path, re_path
from rest_framework.response import Response
from rest_framework.views import APIView

from trading.webhook.view import tradingview_webhook


class BareAcceptedView(APIView):
    """The cheapest DRF view, answering 202: the yardstick ``make bench`` compares the webhook's
    throughput with (tests/bench/webhook.py). Mounted only when ``BENCH_BARE_VIEW=1``."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []

    def post(self, request):
        return Response({"status": "accepted"}, status=202)


urlpatterns = [
    re_path(r"^(?P<user_id>[^/]+)/tradingview/?$", tradingview_webhook, name="tradingview-webhook"),
]

if os.environ.get("BENCH_BARE_VIEW") == "1":  # only for `make bench`, never otherwise
    urlpatterns.append(path("bench/bare", BareAcceptedView.as_view()))
