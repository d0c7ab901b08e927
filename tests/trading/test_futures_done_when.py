"""Issue 18's "Done when", on the paper swap account ``manage.py demo`` creates: a SHORT alert from the perpetual
chart (the demo's second curl, posted to the real webhook) becomes a short grid on BTC/USDT:USDT (legs at and
above the entry, take-profits below it, each reduce-only) at the DCA configuration's leverage and margin mode;
the grid preview shows the liquidation price; the demo's printed ``paper price`` steps walk it up through the
legs (a loss while the price is above the entry) and down through the take-profits (closed, profit net of fees).
Also: an OKX-style contract of 0.01 ETH sizes legs to whole contracts, and refuses a leg under one contract.

Hedge mode with a long and a short on one symbol, each closed without touching the other, is
tests/trading/test_swap_placement.py's; a swap account refusing a spot symbol, tests/exchanges/test_paper_swaps.py's.
"""

import io
import json
import random
import shlex
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlparse

import pytest
from django.core.management import call_command
from django.test import Client

from exchanges.models import ExchangeAccount, PaperLeverage, PaperOrder, PaperPosition
from exchanges.paper.connector import PaperConnector
from exchanges.paper.services import paper_price_set
from tests.api_client import client_for
from tests.factories import DCAConfigurationFactory, ExchangeAccountFactory, UserFactory
from trading.models import DCAConfiguration, Order, PositionGroup, Signal
from trading.services.sync import prices_sync, symbol_sync

pytestmark = pytest.mark.django_db
D = Decimal
PERP = "BTC/USDT:USDT"  # shipped paper perpetual: contracts of 0.001 BTC, tick 0.1
ETH = "ETH/USDT:USDT"  # shipped paper perpetual: contracts of 0.01 ETH, OKX's ETH-USDT-SWAP size
SHELL_TIMESTAMP = "$(date -u +%Y-%m-%dT%H:%M:%SZ)"


@pytest.fixture
def demo(eager_celery):
    """``manage.py demo --json`` once the perpetual trades at 60,000: what it printed."""
    call_command("paper", "price", "binance", "BTCUSDT.P", "60000")
    out = io.StringIO()
    call_command("demo", "--json", stdout=out)
    return json.loads(out.getvalue())


def post_curl(curl: str, django_capture_on_commit_callbacks) -> Signal:
    """What pasting the printed curl does: its body, the shell's timestamp filled in, POSTed to its URL (workers
    inline)."""
    words = shlex.split(curl)
    url = words[words.index("-X") + 2]
    body = words[words.index("-d") + 1].replace(SHELL_TIMESTAMP, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    web = Client(REMOTE_ADDR=f"198.19.{random.randrange(250)}.{random.randrange(1, 250)}")
    with django_capture_on_commit_callbacks(execute=True):
        response = web.post(urlparse(url).path, data=body, content_type="application/json")
    assert response.status_code == 202, response.content
    return Signal.objects.get(pk=response.json()["signal_id"])


def paper_step(command: str) -> None:
    """One of the demo's printed ``.venv/bin/python manage.py paper price …`` steps."""
    words = shlex.split(command)
    call_command(*words[words.index("manage.py") + 1 :], stdout=io.StringIO())


def cycle(account: ExchangeAccount, symbol: str = PERP) -> None:
    """One beat's fill sync and price refresh of the account."""
    symbol_sync(account_id=account.pk, symbol=symbol)
    prices_sync(account_id=account.pk)


def book(account: ExchangeAccount, role: str) -> list[tuple]:
    """The engine's orders of ``role`` as they reached the paper exchange: (side, price, contracts, reduce_only,
    position_side), by leg."""
    ids = Order.objects.filter(role=role).order_by("leg_index", "created_at").values_list("client_order_id", flat=True)
    orders = {o.client_order_id: o for o in PaperOrder.objects.filter(account=account, client_order_id__in=ids)}
    return [
        (o.side, o.price, o.amount, o.reduce_only, o.position_side) for o in (orders[i] for i in ids if i in orders)
    ]


def test_a_short_alert_on_the_demo_swap_account_trades_a_reduce_only_short_grid_at_the_configs_leverage(
    demo, django_capture_on_commit_callbacks
):
    swap = ExchangeAccount.objects.get(user__username="demo", market_type="swap")
    assert (swap.label, swap.mode) == ("paper-swap", "paper")
    assert "BTCUSDT.P" in demo["short_curl"] and '"entry_price": "60000"' in demo["short_curl"]
    up, down = demo["short_steps"]

    signal = post_curl(demo["short_curl"], django_capture_on_commit_callbacks)

    assert signal.status == "opened", signal.reason
    group = PositionGroup.objects.get()
    assert (group.side, group.symbol, group.exchange_account) == ("short", PERP, swap)
    snapshot = group.config_snapshot
    assert (snapshot["market_type"], snapshot["position_mode"]) == ("swap", "one_way")
    assert (snapshot["leverage"], snapshot["margin_mode"]) == (3, "isolated")
    # Five sells at and above the entry, 200 USD each: 0.003 BTC, 3 contracts of 0.001; none reduce-only.
    assert book(swap, "entry") == [
        ("sell", D("60000"), D("3"), False, ""),
        ("sell", D("60300"), D("3"), False, ""),
        ("sell", D("60600"), D("3"), False, ""),
        ("sell", D("60900"), D("3"), False, ""),
        ("sell", D("61200"), D("3"), False, ""),
    ]
    # The configuration's leverage and margin mode were set on the symbol before the first sell.
    settings = PaperLeverage.objects.get(account=swap, symbol=PERP)
    assert (settings.leverage, settings.margin_mode) == (3, "isolated")
    position = PaperPosition.objects.get(account=swap, symbol=PERP)  # leg 0 sold on arrival
    assert (position.side, position.contracts, position.leverage, position.margin_mode) == ("short", 3, 3, "isolated")
    assert position.margin == D("60")  # 180 USDT of notional at 3x

    # The grid preview of this configuration shows where this short would be liquidated, legs all filled.
    config = DCAConfiguration.objects.get(user__username="demo")
    preview = client_for(config.user).get(
        f"/api/v1/dca-configs/{config.pk}/preview/", {"entry_price": "60000", "side": "short"}
    )
    assert preview.status_code == 200, preview.json()
    body = preview.json()
    assert (body["leverage"], body["margin_mode"]) == (3, "isolated")
    assert [D(leg["price"]) for leg in body["legs"]] == [D(60000), D(60300), D(60600), D(60900), D(61200)]
    liquidation = D(body["liquidation_price"])
    assert D("75000") < liquidation < D("81000")  # about a third above the average entry, at 3x
    assert body["last_leg_beyond_liquidation"] is False and body["warning"] is None

    cycle(swap)  # leg 0's take-profit: a reduce-only buy 2 % below its fill
    assert book(swap, "take_profit") == [("buy", D("58800"), D("3"), True, "")]

    paper_step(up)  # 61,500: every leg sells; the short is 15 contracts, at a loss above its entry
    assert up.endswith("paper price binance BTCUSDT.P 61500")
    cycle(swap)
    cycle(swap)
    position = PaperPosition.objects.get(account=swap, symbol=PERP)
    assert (position.side, position.contracts) == ("short", 15)
    group.refresh_from_db()
    assert group.total_filled_quantity == D("0.015")
    assert group.unrealized_pnl_usd < 0
    take_profits = book(swap, "take_profit")
    assert [(side, price, amount, reduce_only) for side, price, amount, reduce_only, _ in take_profits] == [
        ("buy", D("58800"), D("3"), True),
        ("buy", D("59094"), D("3"), True),
        ("buy", D("59388"), D("3"), True),
        ("buy", D("59682"), D("3"), True),
        ("buy", D("59976"), D("3"), True),
    ]

    paper_step(down)  # 58,200: every take-profit buys back
    assert down.endswith("paper price binance BTCUSDT.P 58200")
    cycle(swap)
    cycle(swap)
    group.refresh_from_db()
    assert group.status == "closed", group.status_reason
    assert not PaperPosition.objects.filter(account=swap, symbol=PERP).exists()
    assert not PaperOrder.objects.filter(account=swap, status="open").exists()
    # Realised PnL: each leg sold 0.003 BTC and bought it back 2 % lower, less the fees of both sides.
    entries = Order.objects.filter(group=group, role="entry")
    exits = Order.objects.filter(group=group, role="take_profit")
    gross = sum(o.filled_quantity * o.avg_fill_price for o in entries) - sum(
        o.filled_quantity * o.avg_fill_price for o in exits
    )
    assert gross == D("0.003") * (D("303000") - D("296940"))  # sold at 60000…61200, bought 58800…59976
    assert group.fees_usd > 0
    assert group.realized_pnl_usd == gross - group.fees_usd
    assert group.realized_pnl_usd > 0


def test_the_demo_spot_account_and_its_long_alert_are_unchanged(demo, django_capture_on_commit_callbacks):
    spot = ExchangeAccount.objects.get(user__username="demo", market_type="spot")
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("60000"))

    signal = post_curl(demo["curl"], django_capture_on_commit_callbacks)

    assert signal.status == "opened", signal.reason
    group = PositionGroup.objects.get()
    assert (group.side, group.symbol, group.exchange_account) == ("long", "BTC/USDT", spot)
    assert "market_type" not in group.config_snapshot  # a spot group: no leverage, no swap flags
    assert not PaperLeverage.objects.exists()


@pytest.fixture
def okx_style(db, eager_celery):
    """A trader with a paper swap account and a 2x ETH configuration: ETH/USDT:USDT trades in contracts of
    0.01 ETH, as OKX's ETH-USDT-SWAP."""
    user = UserFactory(username="okx")
    account = ExchangeAccountFactory(user=user, market_type="swap", starting_balance=D("100000"))
    PaperConnector(account).load_markets()
    paper_price_set(exchange_id="binance", symbol=ETH, price=D("3333"))
    return user, account


def test_contracts_of_001_eth_size_every_leg_down_to_whole_contracts(route, okx_style):
    user, account = okx_style
    DCAConfigurationFactory(user=user, pair="ETH/USDT", capital_usd=D("1000"), leverage=2)

    signal = route(user=user, symbol="ETHUSDT.P", side="sell", market_position="short", entry_price="3333")

    assert signal.status == "opened", signal.reason
    # 200 USD a leg at 3,333…3,399.66 is 0.0600…0.0588 ETH: 0.06 or 0.05 ETH, never a fraction of a contract.
    legs = Order.objects.filter(role="entry").order_by("leg_index")
    assert [leg.quantity for leg in legs] == [D("0.06"), D("0.05"), D("0.05"), D("0.05"), D("0.05")]
    assert book(account, "entry") == [
        ("sell", D("3333"), D("6"), False, ""),
        ("sell", D("3349.67"), D("5"), False, ""),
        ("sell", D("3366.33"), D("5"), False, ""),
        ("sell", D("3383.00"), D("5"), False, ""),
        ("sell", D("3399.66"), D("5"), False, ""),
    ]


def test_a_leg_under_one_001_eth_contract_refuses_the_signal_and_places_nothing(route, okx_style):
    user, account = okx_style
    DCAConfigurationFactory(user=user, pair="ETH/USDT", capital_usd=D("100"), leverage=2)  # 20 USD a leg

    signal = route(user=user, symbol="ETHUSDT.P", side="sell", market_position="short", entry_price="3333")

    assert signal.status == "rejected"
    # 20 USD is 0.006 ETH: no whole contract of 0.01.
    assert "Leg 0: quantity 0.00 at 3333.00 is below the exchange minimum 0.01" in signal.reason, signal.reason
    assert not PaperOrder.objects.filter(account=account).exists() and not PositionGroup.objects.exists()
