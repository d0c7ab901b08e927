from django.core.management.base import BaseCommand

from exchanges.services.secrets import secrets_reencrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret (exchange keys, bot tokens) with the first key of "
        "FIELD_ENCRYPTION_KEYS. Put the new key first, run this, then drop the old key."
    )

    def handle(self, *args, **options):
        count = secrets_reencrypt()
        self.stdout.write(f"Re-encrypted {count} row(s) with the primary key.")
