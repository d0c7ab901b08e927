"""Exchange keys and bot tokens are encrypted at rest and survive key rotation."""

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.db import connection

from exchanges.models import ExchangeAccount
from tests.factories import PAPER_FORM_DATA, ExchangeAccountFactory

pytestmark = pytest.mark.django_db

API_SECRET = "s3cr3t-binance-api-secret-value"


def stored_api_secret(account: ExchangeAccount) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_secret FROM exchanges_exchangeaccount WHERE id = %s", [account.pk])
        return cursor.fetchone()[0]


def test_keys_are_not_stored_in_plaintext_and_read_back_plain():
    account = ExchangeAccountFactory(mode="live", api_key="key-123", api_secret=API_SECRET)

    raw = stored_api_secret(account)

    assert API_SECRET not in raw
    assert ExchangeAccount.objects.get(pk=account.pk).api_secret == API_SECRET


def test_rotation_re_encrypts_with_the_new_primary_key(settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    account = ExchangeAccountFactory(mode="live", api_key="key-123", api_secret=API_SECRET)
    token_before = stored_api_secret(account)
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]

    call_command("reencrypt_secrets")

    token_after = stored_api_secret(account)
    assert token_after != token_before
    assert Fernet(new_key.encode()).decrypt(token_after.encode()).decode() == API_SECRET
    with pytest.raises(InvalidToken):
        Fernet(old_key.encode()).decrypt(token_after.encode())
    settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old key can now be dropped
    assert ExchangeAccount.objects.get(pk=account.pk).api_secret == API_SECRET


def test_a_missing_key_gives_an_actionable_error(settings):
    account = ExchangeAccountFactory(mode="live", api_key="key-123", api_secret=API_SECRET)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(Exception, match="put the key it was encrypted with back"):
        ExchangeAccount.objects.get(pk=account.pk)


def test_admin_never_shows_stored_keys(client, user):
    user.is_staff = user.is_superuser = True
    user.save()
    client.force_login(user)
    account = ExchangeAccountFactory(user=user, mode="live", api_key="key-123", api_secret=API_SECRET)

    page = client.get(f"/admin/exchanges/exchangeaccount/{account.pk}/change/").content.decode()

    assert API_SECRET not in page and "key-123" not in page
    assert "Stored (encrypted). Leave empty to keep it." in page


def test_admin_keeps_stored_keys_when_the_fields_are_left_empty(client, user):
    user.is_staff = user.is_superuser = True
    user.save()
    client.force_login(user)
    account = ExchangeAccountFactory(user=user, mode="live", api_key="key-123", api_secret=API_SECRET)
    form = {
        "user": str(user.pk),
        "exchange_id": "binance",
        "market_type": "spot",
        "label": "main",
        "mode": "live",
        "is_enabled": "on",
        "api_key": "",
        "api_secret": "",
        "api_password": "",
        **PAPER_FORM_DATA,
        "paper_dialect": "plain",
    }

    response = client.post(f"/admin/exchanges/exchangeaccount/{account.pk}/change/", form)

    assert response.status_code == 302
    account.refresh_from_db()
    assert (account.label, account.api_key, account.api_secret) == ("main", "key-123", API_SECRET)
