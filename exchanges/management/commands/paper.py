import json
from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError

from exchanges.connector import ExchangeError
from exchanges.models import ExchangeAccount
from exchanges.paper.drills import (
    COUNTED_FAULTS,
    DIALECTS,
    LOSE_ANSWER_RATE,
    DrillRefused,
    faults_allowed,
    paper_dialect_set,
    paper_fault_arm,
    paper_faults_clear,
)
from exchanges.paper.services import paper_market_upsert, paper_markets, paper_markets_ensure, paper_price_set
from exchanges.symbols import resolve_tv_symbol


def decimal_arg(value: str) -> Decimal:
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise CommandError(f"{value!r} is not a number") from None
    if not number.is_finite():
        raise CommandError(f"{value!r} is not a finite number")
    return number


class Command(BaseCommand):
    help = (
        "Drive the paper exchange: set a shared price (matching runs at once), add/edit a market, and (operator "
        "drills) arm faults or pick the answer dialect of one paper account."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        price = sub.add_parser(
            "price",
            help="Set the shared price of a market and match its resting orders now "
            "(accounts that set their own price for it keep theirs).",
        )
        price.add_argument("exchange")
        price.add_argument("symbol", help="BTC/USDT (TradingView forms like BTCUSDT work too)")
        price.add_argument("price", type=decimal_arg)
        market = sub.add_parser("market", help="Add or edit a paper market's precision and limits.")
        market.add_argument("exchange")
        market.add_argument("symbol", help="unified symbol, BTC/USDT (a linear perpetual: BTC/USDT:USDT)")
        market.add_argument("--tick", type=decimal_arg, required=True, help="price increment, e.g. 0.01")
        market.add_argument(
            "--step", type=decimal_arg, required=True, help="quantity increment, e.g. 0.001 (a perpetual: contracts)"
        )
        market.add_argument(
            "--contract-size", type=decimal_arg, default=None, help="a perpetual's base units per contract, e.g. 0.01"
        )
        market.add_argument("--min-qty", type=decimal_arg, default=Decimal(0))
        market.add_argument("--min-notional", type=decimal_arg, default=Decimal(0))
        market.add_argument("--reference-price", type=decimal_arg, default=None, help="where a synthetic walk starts")
        market.add_argument(
            "--funding-rate",
            type=decimal_arg,
            default=None,
            help="a perpetual's own funding rate per 8 h, e.g. 0.0001 (default: settings.PAPER_FUNDING_RATE)",
        )
        fault = sub.add_parser(
            "fault", help="Show, arm or clear fault drills on one paper account (arming needs PAPER_FAULTS_ALLOWED)."
        )
        fault.add_argument("account", type=int, help="the exchange account's id")
        fault.add_argument("fault", nargs="?", help=f"one of {', '.join(COUNTED_FAULTS)}, or {LOSE_ANSWER_RATE}")
        fault.add_argument("count", nargs="?", help=f"occurrences (0 disarms); for {LOSE_ANSWER_RATE} a share 0 to 1")
        fault.add_argument("--clear", action="store_true", help="disarm every fault of the account")
        dialect = sub.add_parser("dialect", help="Show or set the answer dialect of one paper account.")
        dialect.add_argument("account", type=int, help="the exchange account's id")
        dialect.add_argument("dialect", nargs="?", choices=DIALECTS)

    def handle(self, *args, action: str, **options):
        try:
            if action == "price":
                self._price(options["exchange"].strip().lower(), options["symbol"], options["price"])
            elif action == "market":
                self._market(options["exchange"].strip().lower(), options["symbol"], options)
            elif action == "fault":
                self._fault(options["account"], options["fault"], options["count"], clear=options["clear"])
            else:
                self._dialect(options["account"], options["dialect"])
        except (ExchangeError, DrillRefused) as exc:
            raise CommandError(str(exc)) from None

    def _price(self, exchange: str, symbol: str, price: Decimal) -> None:
        paper_markets_ensure(exchange)
        unified = resolve_tv_symbol(symbol, paper_markets(exchange), exchange_id=exchange)
        result = paper_price_set(exchange_id=exchange, symbol=unified, price=price)
        liquidated = f", {result.liquidated} position(s) liquidated" if result.liquidated else ""
        self.stdout.write(
            f"{exchange} {unified} price {result.price.normalize():f}: {result.fills} order(s) filled{liquidated}."
        )

    def _market(self, exchange: str, symbol: str, options: dict) -> None:
        market = paper_market_upsert(
            exchange_id=exchange,
            symbol=symbol,
            tick_size=options["tick"],
            step_size=options["step"],
            min_qty=options["min_qty"],
            min_notional=options["min_notional"],
            reference_price=options["reference_price"],
            contract_size=options["contract_size"],
            funding_rate=options["funding_rate"],
        )
        contracts = f" contracts of {market.contract_size.normalize():f} {market.base}" if market.is_swap else ""
        funding = ""
        if market.funding_rate is not None:
            funding = f", funding rate {market.funding_rate.normalize():f} per 8 h"
        self.stdout.write(
            f"{exchange} {market.symbol}: tick {market.tick_size.normalize():f}, "
            f"step {market.step_size.normalize():f}{contracts}, "
            f"min qty {market.min_qty.normalize():f}, min notional {market.min_notional.normalize():f}{funding}."
        )

    def _fault(self, account_id: int, fault: str | None, count: str | None, *, clear: bool) -> None:
        if clear and fault:
            raise CommandError("Give either --clear or a fault and its count, not both.")
        if fault and count is None:
            raise CommandError(f"Give the count of {fault}: `paper fault {account_id} {fault} <count>`.")
        if clear:
            account = paper_faults_clear(account_id=account_id)
        elif fault and count is not None:
            account = paper_fault_arm(account_id=account_id, fault=fault, count=count)
        else:
            account = self._account(account_id)
        state = "acted on" if faults_allowed() else "ignored here (PAPER_FAULTS_ALLOWED is off)"
        self.stdout.write(
            f"account {account.pk} ({account} of {account.user}) faults: "
            f"{json.dumps(account.paper_faults, sort_keys=True)}; {state}."
        )

    def _dialect(self, account_id: int, dialect: str | None) -> None:
        account = paper_dialect_set(account_id=account_id, dialect=dialect) if dialect else self._account(account_id)
        self.stdout.write(
            f"account {account.pk} ({account} of {account.user}) answers in the {account.paper_dialect} dialect."
        )

    @staticmethod
    def _account(account_id: int) -> ExchangeAccount:
        account = ExchangeAccount.objects.select_related("user").filter(pk=account_id).first()
        if account is None:
            raise CommandError(f"There is no exchange account {account_id}.")
        return account
