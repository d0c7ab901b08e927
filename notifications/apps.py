from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core.events import register_sink
        from notifications import job_kinds, receivers  # noqa: F401  (background job kinds; the per-user row creation)
        from notifications.sink import enqueue_notification, telegram_enabled
        from notifications.views import add_page_sections

        add_page_sections()  # the Telegram section of the settings page
        # Domain events (core.events.emit) of traders with Telegram on become notify_event_task after commit.
        register_sink(enqueue_notification, wants=telegram_enabled)
