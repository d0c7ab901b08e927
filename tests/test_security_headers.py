"""What every answer tells the browser: a Content-Security-Policy without inline script, style or
eval, and HSTS once the site is served through a TLS proxy (SECURE_PROXY_SSL). The browser test
(tests/browser/test_content_security_policy.py) shows the pages keep to the policy."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# A GET through Django's own stack (middleware included) as the proxy forwards an HTTPS request.
ASK = (
    "import django; django.setup(); from django.test import Client; "
    "answer = Client().get('/accounts/login/', HTTP_X_FORWARDED_PROTO='https'); "
    "print(answer.status_code); print(answer.headers.get('Strict-Transport-Security'))"
)


def answer_headers(env_overrides: dict, tmp_path) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SECURE_", "DJANGO_ENV"))}
    env.update({"VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "config.settings", **env_overrides})
    result = subprocess.run([sys.executable, "-c", ASK], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.split("\n")[:2]


@pytest.mark.django_db
def test_pages_forbid_inline_scripts_and_styles_and_foreign_origins(client):
    policy = client.get("/accounts/login/")["Content-Security-Policy"]

    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy


def test_behind_a_tls_proxy_browsers_are_told_to_use_https_for_a_year(tmp_path):
    assert answer_headers({"SECURE_PROXY_SSL": "1"}, tmp_path) == ["200", "max-age=31536000"]


def test_hsts_lifetime_and_subdomains_are_settings(tmp_path):
    assert answer_headers(
        {"SECURE_PROXY_SSL": "1", "SECURE_HSTS_SECONDS": "600", "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1"}, tmp_path
    ) == ["200", "max-age=600; includeSubDomains"]


def test_without_a_tls_proxy_no_hsts_is_sent(tmp_path):
    # The header would pin browsers to an HTTPS this installation may not have.
    assert answer_headers({}, tmp_path) == ["200", "None"]
