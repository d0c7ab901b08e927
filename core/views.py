"""Page plumbing every app's dashboard pages share: the login check of htmx partials, the way back after
a form, the redirect to a background job, the settings form page, the one mapping of a domain error to a
page message, and the sections an app above contributes to a page of an app below it.

It imports no app: pages name each other by URL name only.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial, wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse

from core.errors import DomainError


def partial_login_required(view):
    """``login_required`` for the htmx partials: a poll after the session ended sends the whole page to
    the login form (``HX-Redirect``) instead of swapping the login form into a table."""
    page_view = login_required(view)

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated and request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = f"{settings.LOGIN_URL}?next=/"
            return response
        return page_view(request, *args, **kwargs)

    return wrapper


def error_message(request, error: DomainError) -> None:
    """The page surface of a domain error: its sentence as an error message on the next page."""
    messages.error(request, str(error))


def back_url(request, default: str) -> str:
    """The page the form was on (a same-site path only), else ``default`` (a URL name or path)."""
    target = request.POST.get("next", "")
    if target.startswith("/") and not target.startswith("//"):
        return target
    return resolve_url(default)


def back(request, default: str):
    return redirect(back_url(request, default))


def to_job(url: str, job):
    """Redirect to ``url`` with ``?job=<id>``: the page shows the job running, then its outcome."""
    path, hash_sign, anchor = url.partition("#")
    separator = "&" if "?" in path else "?"
    return redirect(f"{path}{separator}job={job.pk}{hash_sign}{anchor}")


# --- Settings forms -------------------------------------------------------------------------------------
# One page per form, plain POST with a CSRF token; an invalid form is shown again with each error next to
# its field and nothing saved. Rows are looked up with user=request.user: another trader's id is a 404.


def settings_section(anchor: str) -> str:
    return f"{reverse('settings')}#{anchor}"


def form_page(request, form, *, title: str, intro: str = "", submit: str = "Save", extra: dict | None = None):
    context = {"form": form, "title": title, "intro": intro, "submit": submit, **(extra or {})}
    return render(request, "settings_form.html", context)


def settings_form(request, form_class, save, *, instance=None, initial: dict | None = None, **page):
    """GET: the empty or current form; POST: ``save(request, form)`` when valid, which answers the
    redirect, or None to show the form again with the errors it added."""
    if request.method == "POST":
        form = form_class(request.POST, instance=instance)
        if form.is_valid() and (response := save(request, form)):
            return response
    else:
        form = form_class(instance=instance, initial=initial)
    return form_page(request, form, **page)


def owned_form(request, form_class, save, **kwargs):
    """``settings_form`` of a form that checks its choices against the trader's own rows (``user=``)."""
    return settings_form(request, partial(form_class, user=request.user), save, **kwargs)


# --- Sections of another app's page ---------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    template: str
    context: Callable[..., dict]  # (user) -> the template's context
    order: int


class PageSections:
    """The parts that apps above a page's app add to it (the overview shows risk's engine and pool, the
    settings page risk's and Telegram's settings), so the page's app imports nothing of theirs: each app
    adds its sections from its ``AppConfig.ready()``; the page renders them in ``order``."""

    def __init__(self) -> None:
        self._sections: dict[str, Section] = {}

    def add(self, name: str, *, template: str, context: Callable[..., dict], order: int) -> None:
        self._sections[name] = Section(template, context, order)  # a second ready() replaces, never doubles

    def context(self, user) -> dict:
        """Every section's context, merged, and ``sections``: their templates in order."""
        sections = sorted(self._sections.values(), key=lambda section: section.order)
        merged: dict = {}
        for section in sections:
            merged.update(section.context(user))
        return {**merged, "sections": [section.template for section in sections]}
