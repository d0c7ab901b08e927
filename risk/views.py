"""The risk app's dashboard pages: the engine's state and its stop/start, the pool's usage, the risk page
(the offset preview, the risk actions, block/unblock/skip per position) and the pool and risk settings.

The engine and the pool are also parts of the overview, and the settings' "Pool and risk" section is part
of the settings page (trading's pages): ``add_page_sections()`` adds them from ``RiskConfig.ready()``.
Pages read through selectors and change state only through services (the ones the API calls).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.views import back, error_message, partial_login_required, settings_form, settings_section
from exchanges.connector import ExchangeError
from risk.forms import RiskConfigForm
from risk.selectors import engine_label, engine_state, risk_actions, risk_status
from risk.services import (
    GroupNotOpen,
    engine_force_start,
    engine_force_stop,
    group_block,
    group_skip_once,
    group_unblock,
    risk_config_update,
)
from trading.models import RiskConfig
from trading.selectors import (
    active_groups,
    committed_exposure_usd,
    groups_of,
    queue_waiting,
    realized_pnl_today_usd,
    risk_config_of,
)
from trading.views import OVERVIEW_SECTIONS, SETTINGS_SECTIONS

# A screenful of recent actions; older ones are in the API.
RISK_ACTIONS_SHOWN = 100


def _engine_context(user, risk: RiskConfig | None = None) -> dict:
    risk = risk or risk_config_of(user)
    return {"risk": risk, "engine": {**engine_state(risk), "label": engine_label(risk)}}


def _pool_context(user, risk: RiskConfig | None = None) -> dict:
    return {
        "risk": risk or risk_config_of(user),
        "open_count": active_groups(user).count(),
        "exposure_usd": committed_exposure_usd(user),
        "queue_size": queue_waiting(user).count(),
        "realized_pnl_today_usd": realized_pnl_today_usd(user),
    }


def overview_context(user) -> dict:
    """The overview's engine and pool parts, from one read of the risk config."""
    risk = risk_config_of(user)
    return {**_pool_context(user, risk), **_engine_context(user, risk)}


def settings_context(user) -> dict:
    return {"risk": risk_config_of(user)}


def add_page_sections() -> None:
    """Add the engine and pool to the overview and the pool and risk settings to the settings page."""
    OVERVIEW_SECTIONS.add("risk", template="risk/partials/overview_risk.html", context=overview_context, order=10)
    SETTINGS_SECTIONS.add("risk", template="risk/partials/settings_risk.html", context=settings_context, order=10)


@partial_login_required
@require_GET
def pool_partial(request):
    return render(request, "risk/partials/pool_stats.html", _pool_context(request.user))


@partial_login_required
@require_GET
def engine_partial(request):
    return render(request, "risk/partials/engine_state.html", _engine_context(request.user))


@login_required
@require_POST
def engine_stop(request):
    engine_force_stop(user=request.user)
    messages.success(request, "Engine stopped: new entries are queued until you start it again.")
    return back(request, "overview")


@login_required
@require_POST
def engine_start(request):
    risk = engine_force_start(user=request.user)
    message = "Engine started: queued entries are promoted."
    if risk.engine_paused_by_loss_limit:
        message += " New entries stay paused by the daily loss limit."
    messages.success(request, message)
    return back(request, "overview")


@login_required
@require_GET
def risk(request):
    context = {**_engine_context(request.user), "actions": risk_actions(user=request.user)[:RISK_ACTIONS_SHOWN]}
    try:
        context["status"] = risk_status(user=request.user)
    except ExchangeError as exc:
        context["status_error"] = f"The offset preview is unavailable: {exc}"
    return render(request, "risk/risk.html", context)


RISK_CONTROLS = {
    "block": (group_block, "blocked: it will not be closed as the loser"),
    "unblock": (group_unblock, "unblocked: it may be closed as the loser again"),
    "skip": (group_skip_once, "skipped in the next evaluation"),
}


@login_required
@require_POST
def risk_control(request, group_id, control):
    if control not in RISK_CONTROLS:
        raise Http404("No such risk control.")
    service, done = RISK_CONTROLS[control]
    group = get_object_or_404(groups_of(request.user).select_related("user"), pk=group_id)
    try:
        service(group=group)
    except GroupNotOpen as exc:
        error_message(request, exc)
    else:
        messages.success(request, f"{group.label} {done}.")
    return back(request, "risk")


@login_required
@require_http_methods(["GET", "POST"])
def risk_config_edit(request):
    return settings_form(
        request,
        RiskConfigForm,
        _risk_config_save,
        instance=risk_config_of(request.user),
        title="Pool and risk settings",
        intro="The engine's stop and start are on the Overview page.",
    )


def _risk_config_save(request, form):
    try:
        risk_config_update(user=request.user, changes=form.changes())
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(None if field not in form.fields else field, errors)
        return None
    messages.success(request, "Pool and risk settings saved.")
    return redirect(settings_section("risk"))
