"""Re-encryption of every stored secret with the primary Fernet key (key rotation)."""

from django.apps import apps
from django.db import transaction

from exchanges.encryption import EncryptedTextField


def secrets_reencrypt() -> int:
    """Rewrite every encrypted field with the first key of FIELD_ENCRYPTION_KEYS; returns rows rewritten.

    Loading decrypts with whichever key matches; saving encrypts with the primary key. Once this has
    run, keys after the first can be removed from FIELD_ENCRYPTION_KEYS.
    """
    rewritten = 0
    for model in apps.get_models():
        fields = [f.name for f in model._meta.get_fields() if isinstance(f, EncryptedTextField)]
        if not fields:
            continue
        with transaction.atomic():
            for row in model._default_manager.select_for_update().order_by("pk"):
                row.save(update_fields=fields)
                rewritten += 1
    return rewritten
