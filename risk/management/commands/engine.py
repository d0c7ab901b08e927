"""``manage.py engine status | stop | start``: the force-stop switch, for operators, one trader or all."""

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, Q

from risk.selectors import engine_label
from risk.services import engine_force_start, engine_force_stop
from trading.models import QueuedSignal, RiskConfig, User
from trading.states import GROUP_ACTIVE_STATUSES

OPERATOR = "an operator (manage.py engine)"


class Command(BaseCommand):
    help = (
        "Show or switch the engine of traders. 'stop' queues every new entry until 'start' (open positions "
        "carry on: fills, take-profits, exits, stop losses, the risk engine); 'start' promotes what queued."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=("status", "stop", "start"))
        parser.add_argument("usernames", nargs="*", help="traders to act on (status: default all)")
        parser.add_argument("--all", action="store_true", help="every trader (stop/start)")

    def handle(self, *args, action: str, usernames: list[str], all: bool, **options):
        if action != "status" and bool(usernames) == all:
            raise CommandError(f"Name the traders to {action}, or pass --all for every trader (not both).")
        users = User.objects.order_by("username")
        if usernames:
            found = set(users.filter(username__in=usernames).values_list("username", flat=True))
            missing = [name for name in usernames if name not in found]
            if missing:
                raise CommandError(
                    f"No trader named {', '.join(map(repr, missing))}; nothing was changed. "
                    "`manage.py engine status` lists them."
                )
            users = users.filter(username__in=usernames)
        if action == "status":
            self._status(users)
            return
        switch = engine_force_stop if action == "stop" else engine_force_start
        for user in users:
            before = RiskConfig.objects.filter(user=user, engine_force_stopped=True).exists()
            switch(user=user, by=OPERATOR)
            changed = before != (action == "stop")
            word = {"stop": "force-stopped", "start": "running"}[action]
            self.stdout.write(f"{user.username}: {word}" + ("" if changed else " (already)"))

    def _status(self, users) -> None:
        rows = users.annotate(
            open_positions=Count(
                "position_groups",
                filter=Q(position_groups__status__in=[s.value for s in GROUP_ACTIVE_STATUSES]),
                distinct=True,
            ),
            queued=Count("queued_signals", filter=Q(queued_signals__status=QueuedSignal.Status.QUEUED), distinct=True),
        ).select_related("risk_config")
        for user in rows:
            risk = getattr(user, "risk_config", None)
            state = engine_label(risk) if risk else "running"
            self.stdout.write(
                f"{user.username}: {state}; {user.open_positions} open position(s), "
                f"{user.queued} queued entr{'y' if user.queued == 1 else 'ies'}"
            )
