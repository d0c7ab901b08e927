from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError

from exchanges.connector import ExchangeError
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
    help = "Drive the paper exchange: set a price (matching runs at once) or add/edit a market."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        price = sub.add_parser("price", help="Set the price of a market and match its resting orders now.")
        price.add_argument("exchange")
        price.add_argument("symbol", help="BTC/USDT (TradingView forms like BTCUSDT work too)")
        price.add_argument("price", type=decimal_arg)
        market = sub.add_parser("market", help="Add or edit a paper market's precision and limits.")
        market.add_argument("exchange")
        market.add_argument("symbol", help="unified symbol, BTC/USDT")
        market.add_argument("--tick", type=decimal_arg, required=True, help="price increment, e.g. 0.01")
        market.add_argument("--step", type=decimal_arg, required=True, help="quantity increment, e.g. 0.001")
        market.add_argument("--min-qty", type=decimal_arg, default=Decimal(0))
        market.add_argument("--min-notional", type=decimal_arg, default=Decimal(0))
        market.add_argument("--reference-price", type=decimal_arg, default=None, help="where a synthetic walk starts")

    def handle(self, *args, action: str, exchange: str, symbol: str, **options):
        exchange = exchange.strip().lower()
        try:
            if action == "price":
                self._price(exchange, symbol, options["price"])
            else:
                self._market(exchange, symbol, options)
        except ExchangeError as exc:
            raise CommandError(str(exc)) from None

    def _price(self, exchange: str, symbol: str, price: Decimal) -> None:
        paper_markets_ensure(exchange)
        unified = resolve_tv_symbol(symbol, paper_markets(exchange), exchange_id=exchange)
        result = paper_price_set(exchange_id=exchange, symbol=unified, price=price)
        self.stdout.write(f"{exchange} {unified} price {result.price.normalize():f}: {result.fills} order(s) filled.")

    def _market(self, exchange: str, symbol: str, options: dict) -> None:
        market = paper_market_upsert(
            exchange_id=exchange, symbol=symbol, tick_size=options["tick"], step_size=options["step"],
            min_qty=options["min_qty"], min_notional=options["min_notional"],
            reference_price=options["reference_price"],
        )
        self.stdout.write(
            f"{exchange} {market.symbol}: tick {market.tick_size.normalize():f}, step {market.step_size.normalize():f}, "
            f"min qty {market.min_qty.normalize():f}, min notional {market.min_notional.normalize():f}."
        )
