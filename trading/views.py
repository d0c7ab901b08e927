"""The trading app's dashboard pages: overview, position ladder, trade history, queue, signals and settings.

The risk, exchange account and Telegram pages are in ``risk.views``, ``exchanges.views`` and
``notifications.views``; the overview and the settings page show their parts through
``OVERVIEW_SECTIONS`` and ``SETTINGS_SECTIONS``, which those apps fill from their ``ready()``, so this
module imports neither risk nor notifications. Shared page plumbing is in ``core.views``.

Every page reads through selectors and changes state only through services (the same ones the API
calls); every object is looked up with ``user=request.user``, so another trader's id answers 404.
Live parts (the positions table, pool usage, the engine state, a position's ladder) are partial
templates that htmx re-fetches; the full pages render the same partials, so they read fine without
JavaScript. Forms are plain POST forms with a CSRF token, so the buttons work without JavaScript too.

No request calls an exchange or Telegram: the buttons that need one (test connection, the Telegram
test, promote) start a background job and send the trader back to the page with ``?job=<id>``, where
``base.html`` shows the job's fragment, polled every second until it says how it ended.
"""

import csv
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, localcontext
from functools import partial
from itertools import chain
from typing import TYPE_CHECKING

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.formatting import format_duration
from core.views import (
    PageSections,
    error_message,
    owned_form,
    partial_login_required,
    settings_section,
    to_job,
)
from exchanges.numbers import at_increment, decimals_of, plain
from exchanges.selectors import exchange_accounts_of
from exchanges.services.candles import chart_candles
from exchanges.views import balances_context
from jobs.selectors import jobs_of
from trading.alerts import alert_template
from trading.charts import PNL_CHART_DAYS, ChartLine, Fill, fill_markers, pnl_chart
from trading.errors import DCAConfigurationClash, PositionNotClosable, QueueEntryNotQueued
from trading.forms import DCAConfigurationForm, GridPreviewForm, TradeFilterForm
from trading.job_kinds import queue_promote_request
from trading.liquidation import beyond_liquidation_message
from trading.models import Order, PositionGroup, Pyramid, TakeProfitMode
from trading.reachability import webhook_url_problems
from trading.selectors import (
    SIGNAL_LISTS,
    active_groups,
    closed_trades,
    closed_trades_pnl_by_day,
    closed_trades_totals,
    dca_configs_of,
    groups_of,
    has_positions,
    markets_of,
    positions_queryset,
    preview_tiers,
    queue_entries_of,
    queue_history,
    queue_waiting,
    realized_pnl_by_day,
    refused_since,
    signals_listed,
)
from trading.services.closing import position_close_by_trader
from trading.services.dca import dca_config_delete as dca_config_remove
from trading.services.dca import dca_config_save
from trading.services.queue import queue_remove as queue_remove_entry
from trading.services.users import user_rotate_webhook_secret
from trading.states import GROUP_NOT_CLOSABLE_STATUSES, GROUP_TERMINAL_STATUSES, ORDER_DEAD_STATUSES, GroupStatus
from trading.states import label as status_label
from trading.stats import FillEvent, TradeSummary, trade_summary
from trading.take_profit import aggregate_target, stop_from_percent

if TYPE_CHECKING:
    from trading.selectors import PositionRow

# How many rows the history pages show: a screenful of recent activity; older rows are in the API.
SIGNALS_SHOWN = 200
QUEUE_HISTORY_SHOWN = 50

# A position in these shows its final figures: nothing of it trades any more.
FINISHED = GROUP_TERMINAL_STATUSES
# How often the position page asks for its chart again: as often as the ladder's fills change the lines
# (the fill sync's pace) while open; a closed position's chart only waits for its last candles.
CHART_POLL_SECONDS = 10
CHART_POLL_SECONDS_FINISHED = 60

# The parts other apps add to the overview (risk: the engine and the pool) and to the settings page (risk:
# pool and risk settings; notifications: Telegram), from their AppConfig.ready().
OVERVIEW_SECTIONS = PageSections()
SETTINGS_SECTIONS = PageSections()


# --- Overview ---------------------------------------------------------------------------------------


def _open_positions(user) -> list[PositionGroup]:
    """The open positions, each with its ``market`` (tick and step for its numbers, or None)."""
    # The table shows statistics only: leave out the config snapshot (the whole ladder as JSON), a third of
    # a row's bytes, decoded for every row of the 5-second poll.
    positions = list(active_groups(user).defer("config_snapshot", "status_reason").order_by("-created_at"))
    markets = markets_of(positions)
    for group in positions:
        group.market = markets[group.pk]
    return positions


@login_required
@require_GET
def overview(request):
    user = request.user
    positions = _open_positions(user)
    context = {
        **OVERVIEW_SECTIONS.context(user),
        "pnl_chart": pnl_chart(realized_pnl_by_day(user, days=PNL_CHART_DAYS)),
        "pnl_chart_days": PNL_CHART_DAYS,
        **balances_context(user),
        "positions": positions,
        "has_history": bool(positions) or has_positions(user),
    }
    return render(request, "trading/overview.html", context)


@partial_login_required
@require_GET
def positions_partial(request):
    positions = _open_positions(request.user)
    has_history = bool(positions) or has_positions(request.user)
    return render(
        request, "trading/partials/positions_table.html", {"positions": positions, "has_history": has_history}
    )


@partial_login_required
@require_GET
def job_partial(request, job_id):
    """The fragment of one of the trader's background jobs (another trader's id is a 404)."""
    return render(request, "trading/partials/job.html", {"job": get_object_or_404(jobs_of(request.user), pk=job_id)})


# --- Position ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LegRow:
    leg: Order
    take_profit: Order | None


@dataclass(frozen=True)
class PyramidRows:
    pyramid: Pyramid
    legs: list[LegRow]
    status_label: str  # "Closed" once the position is: a finished position has no pyramid still filling


def _leg_index(leg: Order) -> int:
    """An entry leg's index in its pyramid (every entry has one: constraint order_leg_index_only_on_entries)."""
    assert leg.leg_index is not None
    return leg.leg_index


def _leg_pyramid(leg: Order) -> Pyramid:
    """An entry leg's pyramid (every entry has one: constraint order_leg_index_only_on_entries)."""
    assert leg.pyramid is not None
    return leg.pyramid


def _ladder(group: PositionGroup) -> list[PyramidRows]:
    """Each pyramid's entry legs with their take-profit order, from the prefetched orders (no query)."""
    ladder = []
    for pyramid in group.pyramids.all():
        orders = list(pyramid.orders.all())
        take_profits = {o.entry_order_id: o for o in orders if o.role == Order.Role.TAKE_PROFIT}
        legs = sorted((o for o in orders if o.role == Order.Role.ENTRY), key=_leg_index)
        label = pyramid.get_status_display()
        if group.status == GroupStatus.CLOSED and pyramid.status != Pyramid.Status.FAILED:
            label = status_label(Pyramid.Status.CLOSED)  # closed before position_finish closed its pyramids too
        ladder.append(PyramidRows(pyramid, [LegRow(leg, take_profits.get(leg.pk)) for leg in legs], label))
    return ladder


def _targets(group: PositionGroup) -> dict:
    """The aggregate take-profit and the stop the engine watches, from the pure rules (none once finished)."""
    average = group.weighted_avg_entry
    target = stop = None
    if group.status in FINISHED:
        return {"aggregate_target": None, "stop_price": None}
    if (
        average
        and group.tp_mode in (TakeProfitMode.AGGREGATE, TakeProfitMode.HYBRID)
        and group.tp_aggregate_percent > 0
    ):
        target = aggregate_target(group.side, average, group.tp_aggregate_percent)
    stop_percent = (group.config_snapshot or {}).get("stop_loss_percent")
    if group.stop_loss_price:
        stop = group.stop_loss_price
    elif average and stop_percent:
        stop = stop_from_percent(group.side, average, Decimal(str(stop_percent)))
    return {"aggregate_target": target, "stop_price": stop}


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime
    what: str
    order: Order


def _all_orders(group: "PositionRow") -> list[Order]:
    return [o for pyramid in group.pyramids.all() for o in pyramid.orders.all()] + group.prefetched_exit_orders


def _timeline(group: "PositionRow") -> list[TimelineEvent]:
    """Every fill of the position (entry legs, take-profits, exits), oldest first, from the prefetched orders."""
    events = []
    for order in _all_orders(group):
        if order.filled_at is None or order.filled_quantity <= 0:
            continue
        if order.role == Order.Role.ENTRY:
            what = f"Pyramid {_leg_pyramid(order).index + 1} leg {_leg_index(order) + 1} filled"
        elif order.role == Order.Role.TAKE_PROFIT:
            what = "Take-profit filled"
        else:
            what = f"Exit filled ({order.get_exit_reason_display() or 'close'})"
        events.append(TimelineEvent(order.filled_at, what, order))
    return sorted(events, key=lambda event: event.at)


def _trade_summary(group: "PositionRow") -> TradeSummary:
    """What the position's entries and exits traded, from the prefetched orders."""
    return trade_summary(
        [
            FillEvent(
                is_entry=order.role == Order.Role.ENTRY,
                quantity=order.filled_quantity,
                price=price,
            )
            for order in _all_orders(group)
            if order.filled_quantity > 0 and (price := order.avg_fill_price or order.price)
        ]
    )


def _final_figures(group: "PositionRow") -> dict | None:
    """A finished position's figures: what it traded, its realised PnL in percent, how long it lived."""
    if group.status not in FINISHED:
        return None
    summary = _trade_summary(group)
    return {
        "summary": summary,
        "realized_percent": summary.realized_percent(group.realized_pnl_usd),
        "duration": format_duration(group.closed_at - group.created_at) if group.closed_at else None,
        "base": group.symbol.split(":")[0].split("/")[0],
    }


def _position_context(user, group_id) -> dict:
    group: PositionRow = get_object_or_404(positions_queryset(user).select_related("exchange_account"), pk=group_id)
    return {
        "group": group,
        "market": markets_of([group])[group.pk],
        "ladder": _ladder(group),
        "exit_orders": group.prefetched_exit_orders,
        "timeline": _timeline(group),
        "closable": group.status not in GROUP_NOT_CLOSABLE_STATUSES,
        "finished": group.status in FINISHED,
        "final": _final_figures(group),
        **_targets(group),
    }


@login_required
@require_GET
def position_detail(request, group_id):
    return render(request, "trading/position_detail.html", _position_context(request.user, group_id))


@partial_login_required
@require_GET
def position_partial(request, group_id):
    return render(request, "trading/partials/position_live.html", _position_context(request.user, group_id))


@require_GET
def position_chart(request, group_id):
    """The position page's candle chart as JSON (``position_chart.js`` draws it): the candles, the ladder's
    lines and the fills. Never waits on an exchange: candles come from the cache or the paper feed's record."""
    if not request.user.is_authenticated:
        return JsonResponse({"state": "unavailable", "message": "Your session ended: log in again."}, status=401)
    group = get_object_or_404(positions_queryset(request.user).select_related("exchange_account"), pk=group_id)
    return JsonResponse(_chart_payload(group))


def _chart_payload(group: "PositionRow") -> dict:
    market = markets_of([group])[group.pk]
    tick = market.tick_size if market else None
    finished = group.status in FINISHED
    answer = chart_candles(
        account=group.exchange_account,
        symbol=group.symbol,
        timeframe_minutes=group.timeframe,
        opened_at=group.created_at,
        closed_at=(group.closed_at or group.updated_at) if finished else None,
    )
    markers, outside = fill_markers(
        _chart_fills(group), [c.opened_at for c in answer.candles], answer.interval_minutes or group.timeframe
    )
    return {
        "state": answer.state,
        "message": answer.message,
        "interval_minutes": answer.interval_minutes,
        "side": group.side,
        "poll_seconds": CHART_POLL_SECONDS_FINISHED if finished else CHART_POLL_SECONDS,
        "price_format": {"precision": decimals_of(tick), "min_move": plain(tick)} if tick else None,
        "candles": [
            {
                "time": c.opened_at,
                "open": plain(c.open),
                "high": plain(c.high),
                "low": plain(c.low),
                "close": plain(c.close),
            }
            for c in answer.candles
        ],
        "lines": [
            {"price": plain(line.price), "text": f"{line.label} {at_increment(line.price, tick)}", "kind": line.kind}
            for line in _chart_lines(group)
        ],
        "markers": [{"time": m.time, "side": m.side, "kind": m.kind, "text": m.text} for m in markers],
        "fills_outside": outside,
    }


def _chart_lines(group: "PositionRow") -> list[ChartLine]:
    """One line per entry leg, one per take-profit of a filled leg (once finished: per take-profit that
    sold), the average entry, and the target and stop while open (the average exit once finished)."""
    lines = []
    for rows in _ladder(group):
        for row in rows.legs:
            leg, name = row.leg, f"P{rows.pyramid.index + 1} L{_leg_index(row.leg) + 1}"
            if leg.price:
                kind = (
                    "leg-filled"
                    if leg.filled_quantity > 0
                    else "leg-cancelled"
                    if leg.status in ORDER_DEAD_STATUSES
                    else "leg-open"
                )
                lines.append(ChartLine(leg.price, name, kind))
            take_profit = (row.take_profit.price if row.take_profit and row.take_profit.price else None) or leg.tp_price
            # Once the position is finished, only the take-profits that sold something are part of its story.
            sold = row.take_profit is not None and row.take_profit.filled_quantity > 0
            if take_profit and leg.filled_quantity > 0 and (sold or group.status not in FINISHED):
                lines.append(ChartLine(take_profit, f"TP {name}", "take-profit"))
    if group.weighted_avg_entry:
        lines.append(ChartLine(group.weighted_avg_entry, "average entry", "average"))
    if group.status in FINISHED:
        average_exit = _trade_summary(group).average_exit
        if average_exit:
            lines.append(ChartLine(average_exit, "average exit", "exit"))
        return lines
    targets = _targets(group)
    if targets["aggregate_target"]:
        lines.append(ChartLine(targets["aggregate_target"], "aggregate target", "target"))
    if targets["stop_price"]:
        lines.append(ChartLine(targets["stop_price"], "stop", "stop"))
    return lines


def _chart_fills(group: "PositionRow") -> list[Fill]:
    """Every fill as a chart marker: entries by leg, take-profits, exits (when each first filled)."""
    several = len(group.pyramids.all()) > 1  # "L2" reads best with one pyramid, "P2L1" tells them apart
    fills = []
    for order in _all_orders(group):
        at = order.first_filled_at or order.filled_at
        if order.filled_quantity <= 0 or at is None:
            continue
        if order.role == Order.Role.ENTRY:
            kind = "entry"
            text = (
                f"P{_leg_pyramid(order).index + 1}L{_leg_index(order) + 1}" if several else f"L{_leg_index(order) + 1}"
            )
        elif order.role == Order.Role.TAKE_PROFIT:
            kind, text = "take-profit", "TP"
        else:
            kind, text = "exit", "exit"
        fills.append(Fill(at.timestamp(), order.side, kind, text))
    return fills


@login_required
@require_http_methods(["GET", "POST"])
def position_close(request, group_id):
    """GET: the confirmation page; POST: close the whole position at market (exit reason manual)."""
    if request.method == "GET":
        group = get_object_or_404(groups_of(request.user), pk=group_id)
        return render(
            request,
            "trading/position_close.html",
            {
                "group": group,
                "market": markets_of([group])[group.pk],
                "closable": group.status not in GROUP_NOT_CLOSABLE_STATUSES,
            },
        )
    group = get_object_or_404(groups_of(request.user), pk=group_id)
    try:
        position_close_by_trader(group=group)
    except PositionNotClosable as exc:
        error_message(request, exc)
    else:
        messages.success(
            request,
            f"Closing {group.side} {group.symbol}: resting orders are cancelled and the rest is sold at market.",
        )
    return redirect("position-detail", group_id=group.pk)


# --- Trade history --------------------------------------------------------------------------------------

# A screenful of trades per page; the CSV holds every matching row.
TRADES_PER_PAGE = 50
# The CSV's columns, in order. Amounts are in the position's quote currency (``quote_currency``) except
# ``realized_pnl_usd`` (at ``quote_usd_rate``; empty while the rate is unknown); times are UTC, ISO 8601.
TRADE_CSV_COLUMNS = (
    "position_id",
    "opened_at",
    "closed_at",
    "duration_seconds",
    "exchange",
    "account",
    "symbol",
    "side",
    "timeframe_minutes",
    "exit_reason",
    "entry_average",
    "exit_average",
    "entry_quantity",
    "exit_quantity",
    "fees",
    "realized_pnl",
    "quote_currency",
    "quote_usd_rate",
    "realized_pnl_usd",
)
# Twelve places: the precision the engine stores amounts with (core.fields.MONEY).
CSV_PLACES = Decimal("1e-12")


@login_required
@require_GET
def trades(request):
    """The trader's closed positions with the filters, a page of rows, the totals and the PnL chart."""
    user, form = request.user, TradeFilterForm(request.GET, user=request.user)
    context = {"form": form, "trades_page": None, "totals": None, "pnl_chart": None}
    if form.is_valid():
        filters = form.filters()
        query = request.GET.copy()
        query.pop("page", None)
        context.update(
            {
                "trades_page": Paginator(closed_trades(user, filters), TRADES_PER_PAGE).get_page(
                    request.GET.get("page")
                ),
                "totals": closed_trades_totals(user, filters),
                "pnl_chart": pnl_chart(
                    closed_trades_pnl_by_day(user, filters), first=filters.closed_from, last=filters.closed_to
                ),
                "filter_query": query.urlencode(),
                "filtered": any(value not in (None, "") for value in form.cleaned_data.values()),
            }
        )
    return render(request, "trading/trades.html", context)


class _Echo:
    """A file-like sink whose ``write`` hands the line back, so csv.writer can feed a streaming response."""

    def write(self, line: str) -> str:
        return line


def _plain(value) -> str:
    """A number as plain digits ("0.00012", never "1.2E-4"), to the engine's twelve places; "" when unset."""
    if value is None:
        return ""
    with localcontext(prec=60):  # a product of two amounts can carry more digits than the default 28
        return f"{Decimal(value).quantize(CSV_PLACES).normalize():f}"


def _text_cell(text: str) -> str:
    """Text a spreadsheet would read as a formula ("=…", "+…", "-…", "@…") is kept as text."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _trade_row(group) -> list[str]:
    account = group.exchange_account
    return [
        str(group.pk),
        group.created_at.isoformat(),
        group.closed_at.isoformat() if group.closed_at else "",
        str(int((group.closed_at - group.created_at).total_seconds())) if group.closed_at else "",
        group.exchange,
        _text_cell(account.label or str(account)),
        _text_cell(group.symbol),
        group.side,
        str(group.timeframe),
        group.exit_reason,
        _plain(group.entry_average),
        _plain(group.exit_average),
        _plain(group.entry_quantity),
        _plain(group.exit_quantity),
        _plain(group.fees_usd),
        _plain(group.realized_pnl_usd),
        group.quote_currency,
        _plain(group.quote_usd_rate),
        _plain(group.realized_usd),
    ]


@login_required
@require_GET
def trades_csv(request):
    """Every closed trade the page's filters match (all pages), as CSV, streamed."""
    form = TradeFilterForm(request.GET, user=request.user)
    if not form.is_valid():
        errors = "; ".join(f"{field}: {' '.join(texts)}" for field, texts in form.errors.items())
        return HttpResponseBadRequest(f"Invalid filter: {errors}", content_type="text/plain; charset=utf-8")
    writer = csv.writer(_Echo())
    rows = closed_trades(request.user, form.filters()).iterator(chunk_size=500)
    lines = (writer.writerow(row) for row in chain([TRADE_CSV_COLUMNS], map(_trade_row, rows)))
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="closed-trades-{stamp}.csv"'
    return response


# --- Queue, signals ------------------------------------------------------------------------------------


@login_required
@require_GET
def queue(request):
    context = {
        "waiting": queue_waiting(request.user),
        "history": queue_history(request.user)[:QUEUE_HISTORY_SHOWN],
    }
    return render(request, "trading/queue.html", context)


@login_required
@require_POST
def queue_remove(request, entry_id):
    entry = get_object_or_404(queue_entries_of(request.user), pk=entry_id)
    try:
        queue_remove_entry(entry=entry)  # an entry promoted or expired meanwhile is left as it is
    except QueueEntryNotQueued as exc:
        error_message(request, exc)
    else:
        messages.success(request, f"{entry.label} removed from the queue.")
    return redirect("queue")


@login_required
@require_http_methods(["GET", "POST"])
def queue_promote_entry(request, entry_id):
    """GET: the confirmation page; POST: open the entry now, past the pool limits (the API's promote), in
    the background: the queue page then shows how it went, with a link to the position it opened."""
    entry = get_object_or_404(queue_entries_of(request.user), pk=entry_id)
    if request.method == "GET":
        return render(request, "trading/queue_promote.html", {"entry": entry})
    try:
        job = queue_promote_request(entry=entry)
    except QueueEntryNotQueued as exc:
        error_message(request, exc)
        return redirect("queue")
    return to_job(resolve_url("queue"), job)


@login_required
@require_GET
def signals(request):
    show = request.GET.get("show", "accepted")
    if show not in SIGNAL_LISTS:
        show = "accepted"
    rows = [
        (signal, json.dumps(signal.payload, indent=2, sort_keys=True) if signal.payload is not None else "")
        for signal in signals_listed(request.user, show=show)[:SIGNALS_SHOWN]
    ]
    refused_recently = show == "accepted" and refused_since(request.user, timezone.now() - timedelta(days=1))
    return render(
        request,
        "trading/signals.html",
        {
            "rows": rows,
            "show": show,
            "lists": SIGNAL_LISTS.items(),
            "refused_recently": refused_recently,
        },
    )


# --- Settings -----------------------------------------------------------------------------------------


@login_required
@require_GET
def settings_page(request):
    user = request.user
    context = {
        "alert_template": alert_template(user),
        "webhook_url_problems": webhook_url_problems(user.webhook_url),
        "exchange_accounts": exchange_accounts_of(user),
        "dca_configs": dca_configs_of(user),
        **SETTINGS_SECTIONS.context(user),
    }
    return render(request, "trading/settings.html", context)


@login_required
@require_POST
def rotate_secret(request):
    user_rotate_webhook_secret(user=request.user)
    messages.success(
        request, "New webhook secret: update the alert message in TradingView, the old secret is refused from now on."
    )
    return redirect("settings")


# --- DCA configuration forms (core.views.owned_form: one page per form, rows looked up with the user) --------


# The ladder a new configuration starts from: five legs 0.5 % apart, 20 % each, 2 % take-profit each.
NEW_DCA_LEVELS = [{"gap_percent": gap, "weight_percent": 20, "tp_percent": 2} for gap in (0, -0.5, -1, -1.5, -2)]


def _dca_save(request, form: DCAConfigurationForm, done: str):
    try:
        config = dca_config_save(form.save, probe=lambda: form.instance)
    except DCAConfigurationClash as exc:  # a concurrent save won the unique constraint after the form's check
        form.add_error(None, str(exc))
        return None
    messages.success(request, f"DCA configuration {config} {done}. It applies to positions opened from now on.")
    return redirect(settings_section("dca"))


@login_required
@require_http_methods(["GET", "POST"])
def dca_config_create(request):
    account = exchange_accounts_of(request.user).first()
    initial = {
        "exchange": account.exchange_id if account else "",
        "levels": NEW_DCA_LEVELS,
        "pyramid_levels": {},
        "pyramid_tp_percents": {},
        "capital_usd": Decimal("1000"),
    }
    return owned_form(
        request,
        DCAConfigurationForm,
        partial(_dca_save, done="added"),
        initial=initial,
        title="New DCA configuration",
        extra={"grid_preview_form": GridPreviewForm()},
        intro="How to trade one pair on one exchange and timeframe. Use pair * for the exchange's "
        "default and leave the timeframe empty for every timeframe.",
    )


@login_required
@require_http_methods(["GET", "POST"])
def dca_config_edit(request, config_id):
    config = get_object_or_404(dca_configs_of(request.user), pk=config_id)
    return owned_form(
        request,
        DCAConfigurationForm,
        partial(_dca_save, done="saved"),
        instance=config,
        title=f"DCA configuration {config}",
        extra={"delete_config": config, "grid_preview_form": GridPreviewForm()},
        intro="Open positions keep the configuration they were opened with; edits apply to new ones.",
    )


# The fields the preview is computed from: with an error in one of them there is nothing to preview.
PREVIEW_INPUTS = ("levels", "pyramid_levels", "max_pyramids", "capital_usd", "leverage", "margin_mode")


@partial_login_required
@require_POST
def dca_config_preview(request):
    """The DCA form's grid preview (an htmx fragment): the form's values as typed, saved or not, at the
    entry price and side asked for. A ladder the save would refuse is previewed too, with the reason."""
    form = DCAConfigurationForm(request.POST, user=request.user)
    form.is_valid()  # full_clean() normalises the ladders on form.instance; a refusal still leaves them there
    preview_form = GridPreviewForm(request.POST)
    context: dict = {"preview_form": preview_form}
    blocking = {name: form.errors[name] for name in PREVIEW_INPUTS if name in form.errors}
    if blocking:
        context["input_errors"] = blocking
    elif preview_form.is_valid():
        config = form.instance
        query = preview_form.cleaned_data
        ladder = config.ladder_name(query["pyramid"])
        try:
            preview = config.preview(
                side=query["side"],
                entry_price=query["entry_price"],
                ladder=ladder,
                tiers=preview_tiers(request.user, config),
            )
        except ValueError as exc:
            context["input_errors"] = {"levels": [str(exc)]}
        else:
            context.update(
                preview=preview,
                ladder=ladder,
                warning=beyond_liquidation_message(preview, ladder=ladder),
                allowed=config.allow_legs_beyond_liquidation,
            )
    # Without JavaScript the Preview button posts the form here: the table as a page of its own.
    template = (
        "trading/partials/grid_preview.html" if request.headers.get("HX-Request") else "trading/dca_config_preview.html"
    )
    return render(request, template, context)


@login_required
@require_http_methods(["GET", "POST"])
def dca_config_delete(request, config_id):
    """GET: the confirmation page; POST: delete (open positions keep their snapshot of it)."""
    config = get_object_or_404(dca_configs_of(request.user), pk=config_id)
    if request.method == "GET":
        return render(request, "trading/dca_config_delete.html", {"config": config})
    label = str(config)
    dca_config_remove(config=config)
    messages.success(
        request, f"DCA configuration {label} deleted. Open positions keep the settings they were opened with."
    )
    return redirect(settings_section("dca"))
