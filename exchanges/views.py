"""The exchanges app's dashboard pages: the balances part of the overview (and its refresh), and the
exchange account forms of the settings page (add, edit, test the connection).

No request calls an exchange: a balance refresh and a connection test are background jobs, and the page
shows the job's line (``core.views.to_job``). Accounts are looked up with ``user=request.user``.
"""

from functools import partial

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.views import back_url, owned_form, partial_login_required, settings_section, to_job
from exchanges.forms import ExchangeAccountForm
from exchanges.job_kinds import balance_refresh_request, test_connection_request
from exchanges.selectors import account_balances, exchange_accounts_of
from jobs.states import JobStatus


def balances_context(user, refresh_error: str = "") -> dict:
    """The balances part of the overview: every account's last balance, and whether a refresh is running."""
    rows = account_balances(user)
    return {
        "balances": rows,
        "balances_refreshing": any(row.refreshing for row in rows),
        "balance_refresh_error": refresh_error,
    }


@partial_login_required
@require_GET
def balances_partial(request):
    return render(request, "exchanges/partials/balances.html", balances_context(request.user))


@login_required
@require_POST
def balance_refresh(request, account_id):
    """Read the account's balance in the background. From htmx: the balances fragment, polling until the
    new figures are in; without JavaScript: back to the overview with the job's line."""
    account = get_object_or_404(exchange_accounts_of(request.user), pk=account_id)
    job = balance_refresh_request(account=account)
    if not request.headers.get("HX-Request"):
        return to_job(resolve_url("overview"), job)
    job.refresh_from_db(fields=["status", "message", "started_at"])
    refused = job.message if job.status == JobStatus.FAILED and job.started_at is None else ""  # the broker was down
    return render(request, "exchanges/partials/balances.html", balances_context(request.user, refused))


def _account_save(request, form: ExchangeAccountForm, done: str):
    try:
        with transaction.atomic():
            account = form.save()
    except IntegrityError:  # a concurrent add of the same exchange and market type (or label) won the constraint
        form.add_error(
            None,
            "You already have an account on this exchange for this market type, or one with this label: edit that one.",
        )
        return None
    messages.success(request, f"Exchange account {account} {done}. Use “Test connection” to check the keys.")
    return redirect(settings_section("exchange-accounts"))


@login_required
@require_http_methods(["GET", "POST"])
def exchange_account_create(request):
    return owned_form(
        request,
        ExchangeAccountForm,
        partial(_account_save, done="added"),
        title="New exchange account",
        intro="Paper mode trades against the built-in paper exchange and needs no keys; live and "
        "testnet need an API key and secret (stored encrypted, never shown again).",
    )


@login_required
@require_http_methods(["GET", "POST"])
def exchange_account_edit(request, account_id):
    account = get_object_or_404(exchange_accounts_of(request.user), pk=account_id)
    return owned_form(
        request,
        ExchangeAccountForm,
        partial(_account_save, done="saved"),
        instance=account,
        title=f"Exchange account {account}",
        extra={"test_account": account},
        intro="Leave a key field empty to keep the stored key.",
    )


@login_required
@require_POST
def exchange_account_test(request, account_id):
    account = get_object_or_404(exchange_accounts_of(request.user), pk=account_id)
    return to_job(back_url(request, settings_section("exchange-accounts")), test_connection_request(account=account))
