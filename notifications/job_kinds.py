"""Background jobs of notifications: the settings page's Telegram test message, which a web request
must not wait for."""

from jobs.models import Job
from jobs.registry import JobOutcome, job_kind
from jobs.services import job_request
from notifications.job_results import TelegramTestResultSerializer
from notifications.models import TelegramConfig
from notifications.selectors import telegram_config_of
from notifications.services import telegram_test_send

TELEGRAM_TEST = "telegram_test"
NOT_CONFIGURED = "Set the bot token and channel id first."


class TelegramNotConfigured(Exception):
    """There is nowhere to send a test message yet; ``str()`` says what to set."""


def telegram_test_request(*, config: TelegramConfig) -> Job:
    """Queue the test message; TelegramNotConfigured (nothing queued) without a bot token and a channel."""
    if not config.bot_token or not config.channel_id:
        raise TelegramNotConfigured(NOT_CONFIGURED)
    return job_request(
        user=config.user,
        kind=TELEGRAM_TEST,
        subject_id=config.pk,
        title=f"Telegram test message to {config.channel_id}",
    )


@job_kind(TELEGRAM_TEST)
def telegram_test_run(job: Job) -> JobOutcome:
    config = telegram_config_of(job.user)
    result = telegram_test_send(config=config)  # Telegram's description only: the token is never in it
    body = {
        "ok": result.ok,
        "status_code": result.status_code,
        "description": result.description,
        "message_id": result.message_id,
    }
    if result.ok:
        message = f"Test message sent to Telegram ({config.channel_id})."
    else:
        message = f"The test message was not sent: {result.description or 'no answer from Telegram'}"
    return JobOutcome(ok=result.ok, message=message, result=dict(TelegramTestResultSerializer(body).data))
