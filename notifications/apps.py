from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from notifications import job_kinds, receivers  # noqa: F401  (background job kinds; the per-user row creation)
        from notifications.views import add_page_sections

        add_page_sections()  # the Telegram section of the settings page
