"""Writes about users: secrets and the demo account."""

import logging

from django.db import transaction

from trading.models import User, new_webhook_secret

logger = logging.getLogger(__name__)


@transaction.atomic
def user_rotate_webhook_secret(*, user: User) -> User:
    """Give ``user`` a new webhook secret; alerts still carrying the old one are refused from now on."""
    user.webhook_secret = new_webhook_secret()
    user.save(update_fields=["webhook_secret"])
    logger.info("webhook secret rotated for user %s", user.username)
    return user
