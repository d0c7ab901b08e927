"""Every page a trader or an operator opens is served with the Content-Security-Policy and breaks none
of it in chromium: no inline script or style, nothing from another origin, htmx without its injected
indicator style, the Swagger UI from our own static files.

The browser reports each blocked script, style or request as a ``securitypolicyviolation`` event;
an init script collects them on every page before the page's own scripts run.
"""

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import log_in, open_position
from trading.models import DCAConfiguration

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"} ` +
                              `at ${event.sourceFile}:${event.lineNumber}`);
});
"""
# The dashboard polls its live parts every 5 s: staying a little longer sees one htmx swap happen.
HTMX_POLL_MS = 6_000


def test_the_pages_pass_the_content_security_policy(page, live_server, ladder_above_market, engine):
    trader = ladder_above_market
    trader.is_staff = trader.is_superuser = True  # the operator's pages too
    trader.save(update_fields=["is_staff", "is_superuser"])
    group = open_position(live_server, trader, engine)
    dca = DCAConfiguration.objects.filter(user=trader).first()
    page.context.add_init_script(COLLECT_VIOLATIONS)
    policies, violations, console = {}, {}, []
    page.on(
        "console",
        lambda message: console.append((page.url, message.text)) if "Content Security Policy" in message.text else None,
    )

    def visit(path: str, *, ready: str | None = None, linger_ms: int = 0) -> None:
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, f"{path}: {response.status}"
        policies[path] = response.headers.get("content-security-policy", "")
        if ready:
            expect(page.locator(ready).first).to_be_visible()
        page.wait_for_timeout(linger_ms)
        violations[path] = page.evaluate("window.__cspViolations")

    visit("/accounts/login/")
    log_in(page, live_server, trader)
    visit("/", ready="#positions tbody tr", linger_ms=HTMX_POLL_MS)
    visit(f"/positions/{group.pk}/", ready="#position-chart canvas", linger_ms=HTMX_POLL_MS)
    visit(f"/positions/{group.pk}/close/")
    for path in (
        "/trades/",
        "/queue/",
        "/risk/",
        "/signals/",
        "/settings/",
        "/settings/exchange-accounts/new/",
        "/settings/dca/new/",
        f"/settings/dca/{dca.pk}/",
        "/settings/risk/",
        "/settings/telegram/",
    ):
        visit(path)
    for path in (
        "/admin/",
        "/admin/trading/positiongroup/",
        f"/admin/trading/dcaconfiguration/{dca.pk}/change/",
        "/admin/axes/accessattempt/",
    ):
        visit(path)
    visit("/api/docs/", ready=".swagger-ui .info", linger_ms=1_000)
    # DRF's browsable API: its templates carry a few inline style attributes (a float, code colours),
    # which the browser drops; its scripts are all files, so nothing it does is blocked.
    visit("/api/v1/positions/", ready=".response-info")
    browsable_api = violations.pop("/api/v1/positions/")
    assert all(found.startswith(("style-src-attr", "style-src-elem")) for found in browsable_api), browsable_api

    for path, policy in policies.items():
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
        assert directives.get("default-src") == "'self'", f"{path}: {policy!r}"
        assert directives.get("script-src") == "'self'" and directives.get("style-src") == "'self'", (
            f"{path}: {policy!r}"
        )
    assert {path: found for path, found in violations.items() if found} == {}
    assert [(url, text) for url, text in console if "/api/v1/" not in url] == []
