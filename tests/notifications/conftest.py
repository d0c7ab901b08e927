import pytest

from tests.notifications.fake_telegram import start_fake_telegram

TOKEN = "123456:TEST-token"


@pytest.fixture
def fake_telegram(settings):
    """The Bot API at 127.0.0.1 for this test; nothing leaves the machine."""
    fake = start_fake_telegram()
    settings.TELEGRAM_API_BASE = fake.base_url
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def telegram_on():
    """Enable Telegram for a user with a token and a channel; returns the saved config."""

    def _enable(user, **fields):
        config = user.telegram_config
        config.enabled, config.bot_token, config.channel_id = True, TOKEN, "@signals"
        config.engine_signature = ""
        for name, value in fields.items():
            setattr(config, name, value)
        config.full_clean(exclude=["user"])
        config.save()
        return config

    return _enable
