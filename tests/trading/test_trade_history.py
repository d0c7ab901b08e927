"""The trade history: the trader's closed positions with filters, the CSV of the same rows, the PnL chart."""

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from exchanges.models import ExchangeAccount
from tests.factories import ExchangeAccountFactory, PositionGroupFactory, UserFactory
from tests.trading.test_lifecycle import close_the_aggregate_example
from trading.states import GroupStatus
from trading.views import TRADE_CSV_COLUMNS, TRADES_PER_PAGE

pytestmark = pytest.mark.django_db
D = Decimal


def closed_trade(user, *, closed_at=None, account=None, **fields):
    """A closed position as the engine leaves it (no orders: the averages are then empty)."""
    account = account or user.exchange_accounts.get(exchange_id="binance")
    values = {
        "status": GroupStatus.CLOSED,
        "closed_at": closed_at or timezone.now(),
        "exit_reason": "take_profit",
        "realized_pnl_usd": D("10"),
    }
    values.update(fields)
    return PositionGroupFactory(user=user, exchange_account=account, exchange=account.exchange_id, **values)


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="closed-trades-')
    text = b"".join(response.streaming_content).decode()
    reader = csv.DictReader(io.StringIO(text))
    assert tuple(reader.fieldnames) == TRADE_CSV_COLUMNS
    return list(reader)


def page_ids(response) -> set[str]:
    assert response.status_code == 200
    return {str(trade.pk) for trade in response.context["trades_page"]}


# --- What a row says ---------------------------------------------------------------------------------


def test_a_closed_trade_shows_its_averages_quantity_fees_pnl_and_duration(trader_client, trader, route, sol):
    # Given a paper account charging 0.1 % to takers, and the reference's aggregate example: legs at
    # 100 and 98 (1.0 SOL each, resting: makers, no fee) closed at 102 by the aggregate take-profit
    # (a market sell of 2.0: 0.204 USDT of fee)
    ExchangeAccount.objects.filter(user=trader).update(taker_fee_percent=D("0.1"))
    group = close_the_aggregate_example(route, sol)
    assert (group.status, group.fees_usd, group.realized_pnl_usd) == ("closed", D("0.204"), D("5.796"))

    # When the trader opens the trade history
    response = trader_client.get(reverse("trades"))

    # Then the row has the entry and exit averages, the quantity, fees and PnL in USDT, and the reason
    trade = response.context["trades_page"][0]
    assert (trade.entry_average, trade.exit_average, trade.entry_quantity, trade.exit_quantity) == (
        D("99"),
        D("102"),
        D("2"),
        D("2"),
    )
    row = response.content.decode().split(f'data-position="{group.pk}"')[1].split("</tr>")[0]
    for shown in (">99<", ">102<", ">2<", "0.20 USDT", "5.80 USDT", "Aggregate take-profit", " s<"):
        assert shown in row, shown
    assert reverse("position-detail", args=[group.pk]) in row

    # And the CSV says the same to twelve places
    [line] = csv_rows(trader_client.get(reverse("trades-csv")))
    assert {
        key: line[key]
        for key in (
            "position_id",
            "symbol",
            "side",
            "entry_average",
            "exit_average",
            "entry_quantity",
            "exit_quantity",
            "fees",
            "realized_pnl",
            "quote_currency",
            "realized_pnl_usd",
            "exit_reason",
        )
    } == {
        "position_id": str(group.pk),
        "symbol": "SOL/USDT",
        "side": "long",
        "entry_average": "99",
        "exit_average": "102",
        "entry_quantity": "2",
        "exit_quantity": "2",
        "fees": "0.204",
        "realized_pnl": "5.796",
        "quote_currency": "USDT",
        "realized_pnl_usd": "5.796",
        "exit_reason": "aggregate_tp",
    }


def test_amounts_are_in_the_quote_currency_and_converted_to_usd_at_the_groups_rate(trader_client, trader):
    closed_trade(
        trader, symbol="ETH/BTC", realized_pnl_usd=D("0.00012"), fees_usd=D("0.0000031"), quote_usd_rate=D("60000")
    )

    page = trader_client.get(reverse("trades")).content.decode()
    [line] = csv_rows(trader_client.get(reverse("trades-csv")))

    assert "0.00012 BTC" in page and "0.0000031 BTC" in page
    assert "7.20 USD" in page  # the total realised, in USD
    assert (
        line["realized_pnl"],
        line["fees"],
        line["quote_currency"],
        line["quote_usd_rate"],
        line["realized_pnl_usd"],
    ) == ("0.00012", "0.0000031", "BTC", "60000", "7.2")


def test_a_trade_without_a_usd_rate_is_left_out_of_the_usd_totals_and_says_so(trader_client, trader):
    closed_trade(trader, realized_pnl_usd=D("10"))
    closed_trade(trader, symbol="ETH/BTC", realized_pnl_usd=D("0.001"), quote_usd_rate=None)

    response = trader_client.get(reverse("trades"))

    assert response.context["totals"].realized_usd == D("10")
    assert "1 trade in a quote currency without a USD price yet is left out" in response.content.decode()
    assert csv_rows(trader_client.get(reverse("trades-csv")))[0]["realized_pnl_usd"] == ""  # newest first


def test_csv_keeps_a_label_that_looks_like_a_formula_as_text(trader_client, trader):
    account = ExchangeAccountFactory(user=trader, exchange_id="bybit", label='=HYPERLINK("x")')
    closed_trade(trader, account=account)

    [line] = csv_rows(trader_client.get(reverse("trades-csv")))

    assert line["account"] == '\'=HYPERLINK("x")'


# --- Whose rows ----------------------------------------------------------------------------------------


def test_history_lists_only_the_traders_closed_positions(trader_client, trader, route):
    still_open = route().position_group
    mine = closed_trade(trader)
    failed = closed_trade(trader, symbol="ETH/USDT", status=GroupStatus.FAILED, exit_reason="")
    stranger = UserFactory()
    theirs = closed_trade(stranger, account=ExchangeAccountFactory(user=stranger), symbol="DOGE/USDT")

    response = trader_client.get(reverse("trades"))

    assert page_ids(response) == {str(mine.pk)}
    assert {row["position_id"] for row in csv_rows(trader_client.get(reverse("trades-csv")))} == {str(mine.pk)}
    assert "DOGE/USDT" not in response.content.decode()
    assert {still_open.pk, failed.pk, theirs.pk}.isdisjoint({mine.pk})


def test_another_traders_account_is_no_filter_and_their_csv_is_refused(trader_client, trader):
    stranger = UserFactory()
    theirs = ExchangeAccountFactory(user=stranger, exchange_id="kraken")
    closed_trade(stranger, account=theirs)
    closed_trade(trader)

    response = trader_client.get(reverse("trades"), {"account": theirs.pk})
    refused = trader_client.get(reverse("trades-csv"), {"account": theirs.pk})

    assert response.status_code == 200 and response.context["trades_page"] is None
    assert "Select a valid choice" in response.content.decode()
    assert refused.status_code == 400 and b"account" in refused.content


@pytest.mark.parametrize("path", ["/trades/", "/trades/export.csv"])
def test_anonymous_is_sent_to_login(client, path):
    response = client.get(path)

    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


# --- Filters -------------------------------------------------------------------------------------------


@pytest.fixture
def book(trader):
    """Five closed trades that differ in one way each from the first."""
    bybit = ExchangeAccountFactory(user=trader, exchange_id="bybit", label="Bybit main")
    now = timezone.now()
    return {
        "base": closed_trade(trader, closed_at=now - timedelta(days=1)),
        "bybit": closed_trade(trader, account=bybit, closed_at=now - timedelta(days=1)),
        "eth": closed_trade(trader, symbol="ETH/USDT", closed_at=now - timedelta(days=1)),
        "short": closed_trade(trader, side="short", closed_at=now - timedelta(days=1)),
        "stopped": closed_trade(trader, exit_reason="stop_loss", closed_at=now - timedelta(days=1)),
        "old": closed_trade(trader, closed_at=now - timedelta(days=40)),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (lambda book: {"account": book["bybit"].exchange_account_id}, {"bybit"}),
        (lambda book: {"symbol": "ETH/USDT"}, {"eth"}),
        (lambda book: {"side": "short"}, {"short"}),
        (lambda book: {"exit_reason": "stop_loss"}, {"stopped"}),
        (lambda book: {"closed_to": f"{timezone.now() - timedelta(days=30):%Y-%m-%d}"}, {"old"}),
        (
            lambda book: {
                "closed_from": f"{timezone.now() - timedelta(days=30):%Y-%m-%d}",
                "side": "long",
                "symbol": "BTC/USDT",
                "exit_reason": "take_profit",
                "account": book["base"].exchange_account_id,
            },
            {"base"},
        ),
        (lambda book: {}, {"base", "bybit", "eth", "short", "stopped", "old"}),
    ],
)
def test_filters_narrow_the_page_and_the_csv_alike(trader_client, book, query, expected):
    wanted = {str(book[name].pk) for name in expected}

    page = trader_client.get(reverse("trades"), query(book))
    rows = csv_rows(trader_client.get(reverse("trades-csv"), query(book)))

    assert page_ids(page) == wanted
    assert {row["position_id"] for row in rows} == wanted
    assert page.context["totals"].count == len(wanted)


def test_the_date_range_is_in_the_traders_time_zone(trader_client, trader):
    trader.time_zone = "Asia/Tokyo"  # UTC+9
    trader.save(update_fields=["time_zone"])
    late_utc = closed_trade(trader, closed_at=datetime(2026, 3, 1, 16, 0, tzinfo=UTC))  # 2 March in Tokyo

    on_second = trader_client.get(reverse("trades"), {"closed_from": "2026-03-02", "closed_to": "2026-03-02"})
    on_first = trader_client.get(reverse("trades"), {"closed_from": "2026-03-01", "closed_to": "2026-03-01"})

    assert page_ids(on_second) == {str(late_utc.pk)}
    assert page_ids(on_first) == set()
    assert "No closed trade matches these filters." in on_first.content.decode()


def test_a_range_ending_before_it_starts_is_refused_with_a_reason(trader_client, trader):
    closed_trade(trader)

    response = trader_client.get(reverse("trades"), {"closed_from": "2026-03-02", "closed_to": "2026-03-01"})

    assert response.context["trades_page"] is None
    assert "Must be on or after the first day." in response.content.decode()


def test_csv_holds_every_filtered_row_while_the_page_shows_one_screen(trader_client, trader):
    start = timezone.now() - timedelta(hours=1)
    shorts = [
        closed_trade(trader, side="short", closed_at=start + timedelta(seconds=n)) for n in range(TRADES_PER_PAGE + 5)
    ]
    closed_trade(trader, side="long")

    first = trader_client.get(reverse("trades"), {"side": "short"})
    second = trader_client.get(reverse("trades"), {"side": "short", "page": 2})
    rows = csv_rows(trader_client.get(reverse("trades-csv"), {"side": "short"}))

    assert len(page_ids(first)) == TRADES_PER_PAGE and len(page_ids(second)) == 5
    assert page_ids(first) | page_ids(second) == {str(group.pk) for group in shorts}
    assert [row["position_id"] for row in rows] == [str(group.pk) for group in reversed(shorts)]  # newest close first
    page = first.content.decode()
    assert "Page 1 of 2" in page and "side=short&amp;page=2" in page
    csv_link = page.split('id="trades-csv" href="')[1].split('"')[0]
    assert csv_link == "/trades/export.csv?side=short"  # the page's filters, every page


def test_the_page_costs_the_same_queries_for_5_or_60_trades(trader_client, trader):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert trader_client.get(reverse("trades")).status_code == 200
        return len(captured)

    for _ in range(5):
        closed_trade(trader)
    few = queries()
    for _ in range(55):
        closed_trade(trader)

    assert queries() == few


# --- Chart ---------------------------------------------------------------------------------------------


def test_chart_shows_daily_bars_the_running_total_and_labelled_axes(trader_client, trader):
    today = timezone.now()
    closed_trade(trader, closed_at=today - timedelta(days=2), realized_pnl_usd=D("30"))
    closed_trade(trader, closed_at=today, realized_pnl_usd=D("-10"))

    response = trader_client.get(reverse("trades"))

    chart = response.context["pnl_chart"]
    assert [period.pnl_usd for period in chart.periods] == [D("30"), D("0"), D("-10")]
    assert [period.cumulative_usd for period in chart.periods] == [D("30"), D("30"), D("20")]
    page = response.content.decode()
    assert [tick.label for tick in chart.value_ticks] == ["-10", "0", "10", "20", "30"]
    for label in ("-10", "0", "10", "20", "30"):
        assert f'text-anchor="end">{label}</text>' in page
    assert ">USD</text>" in page and "<polyline" in page and ">20.00 USD</text>" in page  # the running total's end
    assert f">{(today - timedelta(days=2)):%b} {(today - timedelta(days=2)).day}</text>" in page  # a date on the x axis


def test_the_overview_links_to_the_history_and_its_chart_has_axes(trader_client, trader):
    closed_trade(trader, realized_pnl_usd=D("25"))

    page = trader_client.get(reverse("overview")).content.decode()

    assert 'href="/trades/"' in page and "All closed trades" in page
    assert ">USD</text>" in page and "<polyline" in page


def test_the_overview_says_so_instead_of_drawing_an_empty_chart(trader_client, trader):
    closed_trade(trader, realized_pnl_usd=D("0"))

    page = trader_client.get(reverse("overview")).content.decode()

    assert "No position closed with a profit or a loss in the last 30 days." in page
    assert "<polyline" not in page


def test_the_history_never_reads_the_accounts_keys(trader_client, trader):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    account = ExchangeAccountFactory(user=trader, exchange_id="bybit", mode="live", api_key="k", api_secret="s")
    closed_trade(trader, account=account)

    with CaptureQueriesContext(connection) as captured:
        assert trader_client.get(reverse("trades")).status_code == 200
        assert len(csv_rows(trader_client.get(reverse("trades-csv")))) == 1

    assert not [query["sql"] for query in captured if '"api_secret"' in query["sql"]]
