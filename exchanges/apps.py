from django.apps import AppConfig


class ExchangesConfig(AppConfig):
    name = "exchanges"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from exchanges import (
            job_kinds,  # noqa: F401  (registers the background job kinds)
            tasks,  # noqa: F401  (registers the tasks that exchanges.dispatch looks up by name)
        )
