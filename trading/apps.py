from django.apps import AppConfig


class TradingConfig(AppConfig):
    name = "trading"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from trading import (  # noqa: F401  (background job kinds; the webhook user cache forgets saved users)
            job_kinds,
            receivers,
            tasks,  # noqa: F401  (registers the tasks that trading.services.dispatch looks up by name)
        )
