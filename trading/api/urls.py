from rest_framework.routers import SimpleRouter

from trading.api.views import DCAConfigurationViewSet, OrderViewSet, PositionViewSet, QueueViewSet, SignalViewSet

router = SimpleRouter()
router.register("positions", PositionViewSet, basename="position")
router.register("orders", OrderViewSet, basename="order")
router.register("signals", SignalViewSet, basename="signal")
router.register("queue", QueueViewSet, basename="queue-entry")
router.register("dca-configs", DCAConfigurationViewSet, basename="dca-config")

urlpatterns = router.urls
