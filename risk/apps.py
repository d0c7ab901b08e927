from django.apps import AppConfig


class RiskConfig(AppConfig):
    name = "risk"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from risk import job_kinds, receivers  # noqa: F401  (background job kinds; the per-user row creation)
        from risk.views import add_page_sections

        add_page_sections()  # the engine and pool on the overview, the risk settings on the settings page
