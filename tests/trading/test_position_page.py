"""The position page as a trader reads it: numbers at the market's precision, a closed position's final
figures, and the candle chart's data (candles, one line per leg, fills as markers)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from exchanges.paper.candles import paper_prices_record
from exchanges.paper.services import paper_price_set
from risk.services import exchange_accounts_sync
from tests.factories import PositionGroupFactory, PyramidFactory, UserFactory
from trading.models import Order, PositionGroup, Pyramid
from trading.states import GroupStatus

D = Decimal


@pytest.fixture
def forget_recorded_prices():
    """forget() empties the paper feed's record of the walkthrough markets (the cache outlives a test)."""
    keys = [
        f"{kind}:binance:{symbol}"
        for kind in ("paper-candles", "paper-candle-forming")
        for symbol in ("BTC/USDT", "ETH/USDT")
    ]

    def forget():
        cache.delete_many(keys)

    yield forget
    forget()


@pytest.fixture
def two_legs_filled(route, trader):
    """A BTC/USDT long (tick 0.01, step 0.001) whose legs at 100 and 99.5 filled: 2 + 2.01 BTC."""
    signal = route()
    group = signal.position_group
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("99.5"))
    exchange_accounts_sync(user=trader)  # what the next fill-sync beat does
    group.refresh_from_db()
    assert group.filled_dca_legs == 2
    return group


def page_of(client, group) -> str:
    response = client.get(reverse("position-detail", args=[group.pk]))
    assert response.status_code == 200
    return response.content.decode()


# --- Numbers (issue 16 item 9) --------------------------------------------------------------------


def test_the_average_entry_and_prices_read_at_the_markets_tick(trader_client, two_legs_filled):
    # Given an average entry of (2 × 100 + 2.01 × 99.5) / 4.01 = 99.7493765586…
    assert two_legs_filled.weighted_avg_entry.quantize(D("0.0000001")) == D("99.7493766")

    page = page_of(trader_client, two_legs_filled)

    # Then the page shows it at the 0.01 tick, and the money in the quote to two places
    assert ">99.75<" in page and "99.749377" not in page
    assert "1,000.00 USDT" in page  # the pyramid's capital
    assert "400.00 USDT" in page  # invested: 4.01 × 99.749…
    assert " USD<" not in page and ".000000000000" not in page


def test_the_take_profit_column_says_price_status_and_fill(trader_client, two_legs_filled):
    page = page_of(trader_client, two_legs_filled)

    # The filled legs' take-profits rest at +2 %: 102 for 2 BTC and 101.49 for 2.01 BTC, nothing sold yet
    assert "102 · open · 0 of 2<" in page
    assert "101.49 · open · 0 of 2.01<" in page
    # A resting leg's take-profit is only planned
    assert "100.98 · planned<" in page
    assert "Open 0/2" not in page


def test_the_open_positions_table_reads_at_the_tick_with_the_quote(trader_client, two_legs_filled):
    table = trader_client.get(reverse("partial-positions")).content.decode()

    assert ">99.75<" in table and ">99.5<" in table  # average entry and current price at the tick
    assert "-1.00 USDT (-0.25%)" in table  # unrealised: 4.01 × (99.5 − 99.749…) = 398.995 − 399.995


def test_edit_forms_show_numbers_without_trailing_zeros(trader_client, trader):
    account = trader.exchange_accounts.get()
    account.maker_fee_percent = D("0.1")
    account.save()
    config = trader.dca_configs.get(pair="BTC/USDT")
    config.stop_loss_percent = D("10")
    config.save()

    account_form = trader_client.get(reverse("exchange-account-edit", args=[account.pk])).content.decode()
    dca_form = trader_client.get(reverse("dca-config-edit", args=[config.pk])).content.decode()
    risk_form = trader_client.get(reverse("risk-config-edit")).content.decode()

    assert 'name="maker_fee_percent" value="0.1"' in account_form
    assert 'name="starting_balance" value="100000"' in account_form
    assert 'name="capital_usd" value="1000"' in dca_form
    assert 'name="stop_loss_percent" value="10"' in dca_form  # not 1E+1
    for form in (account_form, dca_form, risk_form):
        assert ".000000000000" not in form and "E+" not in form and 'step="1e-12"' not in form


def test_admin_edit_forms_show_numbers_without_trailing_zeros(client, trader):
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    config = trader.dca_configs.get(pair="BTC/USDT")

    form = client.get(reverse("admin:trading_dcaconfiguration_change", args=[config.pk])).content.decode()

    assert 'name="capital_usd" value="1000"' in form and ".000000000000" not in form


# --- A closed position (issue 16 item 6) ------------------------------------------------------------


def test_a_closed_position_shows_its_final_figures_only(trader_client, route, two_legs_filled):
    # Given the two-leg long closed by the strategy's exit at 101 (below its take-profits)
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("101"))
    route(intent="exit", side="sell", prev_market_position="long", market_position="flat", entry_price="101")
    group = PositionGroup.objects.get(pk=two_legs_filled.pk)
    assert group.status == GroupStatus.CLOSED

    page = page_of(trader_client, group)

    # Then: no price to watch, nothing invested, no unrealised PnL, no target or stop
    for gone in ("Current price", "Invested", "Unrealised PnL", "Aggregate target", ">Stop<", "Close position…"):
        assert gone not in page, gone
    # but what it did: realised PnL (4.01 × 101 − 399.995 = 5.015) with its percent of the entry cost,
    # the exit reason, what the entries and exits traded at, when it opened and closed, how long it lived
    assert "5.02 USDT (1.25%)" in page
    assert "Exit signal" in page
    assert "4.01 BTC at 99.75" in page and "4.01 BTC at 101<" in page
    assert "Duration" in page and "Opened" in page and "Closed" in page
    # and its pyramid is closed with it, not "Partially filled"
    assert Pyramid.objects.get(group=group).status == Pyramid.Status.CLOSED
    assert "Partially filled" not in page and "Closed</span></h2>" in page
    # and its cancelled legs plan no take-profit any more
    assert "· planned" not in page and "102 · cancelled · 0 of 2<" in page


def test_a_closed_position_shows_its_dust(trader_client, trader):
    group = PositionGroupFactory(
        user=trader,
        exchange_account=trader.exchange_accounts.get(),
        status=GroupStatus.CLOSED,
        closed_at=timezone.now(),
        exit_reason="take_profit",
        dust_quantity=D("0.000400000000"),
        dust_value=D("0.041600000000"),
        realized_pnl_usd=D("12.5"),
        current_price=D("104"),
        total_invested_usd=D("400"),
    )
    group.created_at = timezone.now() - timedelta(hours=3, minutes=30)
    group.save(update_fields=["created_at"])
    PyramidFactory(group=group, status=Pyramid.Status.PARTIALLY_FILLED)  # closed before pyramids closed with it

    page = page_of(trader_client, group)

    assert "Dust left" in page
    assert ">0.0004 BTC ≈ 0.04 USDT<" in page  # as held: dust is under the step, so at the step it would read 0
    assert "3.5h" in page  # the duration
    assert "Partially filled" not in page and "Closed</span></h2>" in page
    assert "Current price" not in page and "Invested" not in page


def test_a_closed_swap_position_shows_the_funding_in_its_realised_pnl(trader_client, trader):
    group = PositionGroupFactory(
        user=trader,
        exchange_account=trader.exchange_accounts.get(),
        symbol="BTC/USDT:USDT",
        side="short",
        config_snapshot={"levels": [], "market_type": "swap"},
        status=GroupStatus.CLOSED,
        closed_at=timezone.now(),
        exit_reason="take_profit",
        realized_pnl_usd=D("9.48881087"),
        fees_usd=D("0.465"),
        funding_pnl_usd=D("-0.04618913"),
    )
    PyramidFactory(group=group)

    page = page_of(trader_client, group)

    assert "Funding (in realised PnL)" in page
    assert "-0.05 USDT" in page and "9.49 USDT" in page


def test_a_spot_position_shows_no_funding(trader_client, two_legs_filled):
    assert "Funding" not in page_of(trader_client, PositionGroup.objects.get())


def test_a_failed_position_that_never_filled_says_so(trader_client, trader):
    group = PositionGroupFactory(
        user=trader,
        exchange_account=trader.exchange_accounts.get(),
        status=GroupStatus.FAILED,
        status_reason="binance rejected the order: Account has insufficient balance.",
    )

    page = page_of(trader_client, group)

    assert "none filled" in page and "insufficient balance" in page
    assert "Current price" not in page and "Close position…" not in page


# --- The candle chart (issue 16 item 7) ------------------------------------------------------------


def chart_of(client, group) -> dict:
    response = client.get(reverse("position-chart", args=[group.pk]))
    assert response.status_code == 200, response.content
    return response.json()


def test_the_chart_draws_the_paper_feeds_candles_with_one_line_per_leg(
    trader_client, forget_recorded_prices, two_legs_filled
):
    # Given the paper feed recorded a price every 20 s for the last 40 minutes, around the entry
    group = two_legs_filled
    forget_recorded_prices()
    now = timezone.now()
    for step in range(120, -1, -1):
        price = D("100") + D(step % 7) / 4 - D("0.5")
        paper_prices_record("binance", {"BTC/USDT": price}, at=now - timedelta(seconds=20 * step))

    chart = chart_of(trader_client, group)

    # Then it draws 1-minute candles (the record is too short for 15-minute ones), at the market's precision
    assert chart["state"] == "ready" and chart["interval_minutes"] == 1 and chart["poll_seconds"] == 10
    assert "1-minute candles from the paper feed's recorded prices" in chart["message"]
    assert 40 <= len(chart["candles"]) <= 42
    assert chart["price_format"] == {"precision": 2, "min_move": "0.01"}
    candle = chart["candles"][0]
    assert set(candle) == {"time", "open", "high", "low", "close"} and candle["time"] % 60 == 0
    # one line per leg, one per filled leg's take-profit, the average entry; labels carry the price at the tick
    legs = Order.objects.filter(group=group, role="entry")
    kinds = [line["kind"] for line in chart["lines"]]
    assert kinds.count("leg-filled") == 2 and kinds.count("leg-open") == legs.count() - 2
    assert kinds.count("take-profit") == 2
    assert [line["text"] for line in chart["lines"] if line["kind"] == "average"] == ["average entry 99.75"]
    assert {"price": "99.5", "text": "P1 L2 99.5", "kind": "leg-filled"} in chart["lines"]
    # and the two fills as buy markers on the candles they happened in
    assert [(m["text"], m["side"], m["kind"]) for m in chart["markers"]] == [
        ("L1", "buy", "entry"),
        ("L2", "buy", "entry"),
    ]
    assert all(m["time"] in {c["time"] for c in chart["candles"]} for m in chart["markers"])


def test_a_chart_without_recorded_prices_says_why(trader_client, forget_recorded_prices, two_legs_filled):
    forget_recorded_prices()

    chart = chart_of(trader_client, two_legs_filled)

    assert chart["state"] == "unavailable" and chart["candles"] == []
    assert "No price recorded for BTC/USDT on the paper binance yet" in chart["message"]
    assert len(chart["lines"]) == 5 + 2 + 1  # the ladder is known all the same


def test_a_closed_positions_chart_has_no_target_but_its_average_exit(trader_client, route, two_legs_filled):
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("101"))
    route(intent="exit", side="sell", prev_market_position="long", market_position="flat", entry_price="101")

    chart = chart_of(trader_client, two_legs_filled)

    kinds = [line["kind"] for line in chart["lines"]]
    assert "target" not in kinds and "stop" not in kinds and chart["poll_seconds"] == 60
    assert "take-profit" not in kinds  # cancelled when the exit closed the position: they sold nothing
    assert {"price": "101", "text": "average exit 101", "kind": "exit"} in chart["lines"]
    assert ("exit", "sell") in [(m["kind"], m["side"]) for m in chart["markers"]]


def test_another_traders_chart_answers_404_and_a_stranger_401(trader, two_legs_filled):
    intruder = Client()
    intruder.force_login(UserFactory())
    url = reverse("position-chart", args=[two_legs_filled.pk])

    assert intruder.get(url).status_code == 404
    assert Client().get(url).status_code == 401
