import pytest

TOKEN = "123456:TEST-token"


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
