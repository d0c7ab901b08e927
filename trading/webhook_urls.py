"""Webhook URLs, mounted under ``/webhooks/``: ``<user_uuid>/tradingview`` with or without the slash.

The user id is matched as any path segment, not as ``<uuid:…>``: a malformed id must get the same
403 as an unknown user or a wrong secret, not a 404 that tells them apart.
"""

import os

from django.urls import path, re_path

from trading.webhooks import tradingview_webhook

urlpatterns = [
    re_path(r"^(?P<user_id>[^/]+)/tradingview/?$", tradingview_webhook, name="tradingview-webhook"),
]

if os.environ.get("BENCH_BARE_VIEW") == "1":
    # Only for `make bench` (tests/bench/webhook.py): the cheapest DRF view on the same server, the
    # yardstick the webhook's throughput is compared with. Never mounted otherwise.
    from rest_framework.response import Response
    from rest_framework.views import APIView

    class BareAcceptedView(APIView):
        authentication_classes: list = []
        permission_classes: list = []
        throttle_classes: list = []

        def post(self, request):
            return Response({"status": "accepted"}, status=202)

    urlpatterns.append(path("bench/bare", BareAcceptedView.as_view()))
