from django.apps import AppConfig


class RiskConfig(AppConfig):
    name = "risk"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from risk import receivers  # noqa: F401  (connects the per-user row creation)
