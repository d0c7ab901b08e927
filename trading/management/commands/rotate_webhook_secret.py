from django.core.management.base import BaseCommand, CommandError

from trading.models import User
from trading.services.users import user_rotate_webhook_secret


class Command(BaseCommand):
    help = "Give a user a new webhook secret and print it (update your TradingView alerts with it)."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username: str, **options):
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        user_rotate_webhook_secret(user=user)
        self.stdout.write(f"New webhook secret for {username}: {user.webhook_secret}")
        self.stdout.write('Paste it into the "secret" field of every TradingView alert of this user.')
