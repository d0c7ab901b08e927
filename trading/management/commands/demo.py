import json
import shlex
import signal
import time

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from trading.services.demo import (
    DEMO_PAIR,
    DEMO_PERPETUAL,
    DEMO_SWAP_LABEL,
    DEMO_SWAP_TICKER,
    base_url,
    demo_alert_payload,
    demo_setup,
    demo_short_walk,
)

DEMO_PASSWORD = "demo-password"
PRODUCTION_CONFIRMATION = "--i-know-this-is-production"
# The shell fills the timestamp when the curl is pasted, so the alert is never older than the
# replay window however long ago this was printed.
TIMESTAMP_PLACEHOLDER = "__TIMESTAMP__"
# Where the test alerts' entry price starts when the paper exchange has no price for the market yet.
DEFAULT_ENTRY_PRICE = "60000"


class Command(BaseCommand):
    help = (
        "Create (or reset) the demo user, its paper Binance spot and swap accounts and DCA config; print how to "
        "use them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print one JSON object instead of text.")
        parser.add_argument(
            "--password", help=f"Demo login password (default {DEMO_PASSWORD!r}; required in production)."
        )
        parser.add_argument(
            "--superuser", action="store_true", help="Make the demo user a superuser, so its login also opens /admin/."
        )
        parser.add_argument(
            PRODUCTION_CONFIRMATION,
            action="store_true",
            dest="confirmed_production",
            help="With DJANGO_ENV=production: yes, create the demo user on this installation.",
        )
        parser.add_argument(
            "--when-ready",
            metavar="HEALTH_URL",
            help="Wait until HEALTH_URL answers 200, print, then stay running (for the dev Procfile).",
        )

    def handle(self, *args, **options):
        if settings.PRODUCTION and not (options["password"] and options["confirmed_production"]):
            # A known login with an API token and a paper account has no place on a live installation
            # by accident: it takes a password of the operator's own and an explicit yes.
            raise CommandError(
                "Refusing to set up the demo user: DJANGO_ENV is production. It is a login with an API token; "
                f"if you really want it here, pass --password <a strong password> and {PRODUCTION_CONFIRMATION}."
            )
        if options["when_ready"]:
            self._wait_until_healthy(options["when_ready"])
        try:
            demo = demo_setup(password=options["password"] or DEMO_PASSWORD, superuser=options["superuser"])
        except ValidationError as exc:
            raise CommandError(f"--password refused, nothing was changed: {' '.join(exc.messages)}") from None
        user = demo.user
        entry = self._price_of(DEMO_PAIR) or DEFAULT_ENTRY_PRICE
        curl = self._curl(user, demo_alert_payload(user, entry_price=entry, timestamp=TIMESTAMP_PLACEHOLDER))
        short_entry = self._price_of(DEMO_PERPETUAL) or entry  # the perpetual's walk starts at the first alert
        short_curl = self._curl(
            user, demo_alert_payload(user, entry_price=short_entry, timestamp=TIMESTAMP_PLACEHOLDER, short=True)
        )
        short_steps = [
            f".venv/bin/python manage.py paper price binance {DEMO_SWAP_TICKER} {price}"
            for price in demo_short_walk(short_entry)
        ]
        info = {
            "base_url": base_url(),
            "webhook_url": user.webhook_url,
            "user_id": str(user.id),
            "secret": user.webhook_secret,
            "username": user.username,
            "password": demo.password,
            "api_token": demo.api_token,
            "login_url": f"{base_url()}/accounts/login/",
            "superuser": user.is_superuser,
            "curl": curl,
            "short_curl": short_curl,
            "short_steps": short_steps,
            "leverage": demo.config.leverage,
            "margin_mode": demo.config.margin_mode,
        }
        if options["json"]:
            self.stdout.write(json.dumps(info, indent=2))
        else:
            self._print_banner(info)
        if options["when_ready"]:
            signal.pause()  # honcho stops every process when one exits

    def _price_of(self, symbol: str) -> str | None:
        from exchanges.models import PaperPrice

        price = PaperPrice.objects.filter(exchange_id="binance", symbol=symbol).values_list("price", flat=True).first()
        return f"{price.normalize():f}" if price else None

    def _curl(self, user, payload: dict) -> str:
        body = shlex.quote(json.dumps(payload)).replace(TIMESTAMP_PLACEHOLDER, "'\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\"'")
        return f"curl -sS -X POST {user.webhook_url} -H 'Content-Type: application/json' -d {body}"

    def _wait_until_healthy(self, url: str) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(url, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(1)
        self.stderr.write(f"{url} did not answer 200 within 120 s; printing anyway.")

    def _print_banner(self, info: dict) -> None:
        line = "=" * 78
        admin_access = (
            "(same login)"
            if info["superuser"]
            else "(for operators: `python manage.py createsuperuser`, or `demo --superuser`)"
        )
        self.stdout.write(
            f"\n{line}\n"
            f"  DCA engine is ready.\n\n"
            f"  Dashboard      {info['base_url']}/\n"
            f"  Login          {info['login_url']}   user {info['username']} / password {info['password']}\n"
            f"  Admin          {info['base_url']}/admin/   {admin_access}\n"
            f"  API docs       {info['base_url']}/api/docs/   (Token {info['api_token']})\n"
            f"  Health         {info['base_url']}/healthz\n\n"
            f"  Webhook URL    {info['webhook_url']}\n"
            f"  Secret         {info['secret']}\n\n"
            f"  Send a test alert (long BTC/USDT 15m on the paper exchange):\n\n"
            f"{info['curl']}\n\n"
            f"  Send a test SHORT alert ({DEMO_SWAP_TICKER}, the {DEMO_PERPETUAL} perpetual: it trades the paper\n"
            f"  swap account “{DEMO_SWAP_LABEL}” at {info['leverage']}x {info['margin_mode']}, "
            f"take-profits reduce-only):\n\n"
            f"{info['short_curl']}\n\n"
            f"  Then walk its price (another terminal): up through the legs, and once the take-profits\n"
            f"  show on the position page, down through them:\n\n"
            + "".join(f"    {step}\n" for step in info["short_steps"])
            + f"{line}\n"
        )
