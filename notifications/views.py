"""The notifications app's dashboard pages: the Telegram section of the settings page (added from
``NotificationsConfig.ready()``), its form, and the test message (a background job: no request calls Telegram).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods, require_POST

from core.views import settings_form, settings_section, to_job
from notifications.forms import TelegramConfigForm
from notifications.job_kinds import TelegramNotConfigured, telegram_test_request
from notifications.selectors import telegram_config_of
from trading.views import SETTINGS_SECTIONS


def settings_context(user) -> dict:
    return {"telegram": telegram_config_of(user)}


def add_page_sections() -> None:
    """Add the Telegram section to the settings page (after risk's)."""
    SETTINGS_SECTIONS.add(
        "telegram", template="notifications/partials/settings_telegram.html", context=settings_context, order=20
    )


@login_required
@require_POST
def telegram_test(request):
    telegram = telegram_config_of(request.user)
    try:
        job = telegram_test_request(config=telegram)
    except TelegramNotConfigured as exc:
        messages.error(request, f"The test message was not sent: {exc}")
        return redirect(settings_section("telegram"))
    return to_job(settings_section("telegram"), job)


@login_required
@require_http_methods(["GET", "POST"])
def telegram_config_edit(request):
    telegram = telegram_config_of(request.user)
    return settings_form(
        request,
        TelegramConfigForm,
        _telegram_save,
        instance=telegram,
        title="Telegram",
        extra={"telegram": telegram},
        intro="Quiet hours are in your time zone; failure and risk alerts can still come through.",
    )


def _telegram_save(request, form):
    form.save()
    messages.success(request, "Telegram settings saved. Send a test message to check them.")
    return redirect(settings_section("telegram"))
