"""Request budgets: per trader, per client address, and the token endpoint's stricter one.

Counted in the cache (Redis in these tests, as in production); a test's budgets start untouched
(tests/api/conftest.py::fresh_budgets).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache
from redis.exceptions import ConnectionError as RedisConnectionError
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.api_client import client_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"
ROOT = Path(__file__).resolve().parents[2]


def ask_token(username, password, **extra):
    return APIClient().post("/api/v1/auth/token/", {"username": username, "password": password}, format="json", **extra)


def test_password_guessing_is_cut_off_with_429_and_retry_after(user, throttle_rates):
    throttle_rates(**{"auth-token": "3/minute"})

    answers = [ask_token(user.username, f"guess-{n}").status_code for n in range(3)]
    refused = ask_token(user.username, PASSWORD)  # even the right password, until the minute is over

    assert answers == [400, 400, 400]
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "throttled" in refused.json()["detail"]
    assert not Token.objects.filter(user=user).exists()


def test_a_made_up_forwarded_for_address_does_not_buy_more_attempts(user, throttle_rates):
    throttle_rates(**{"auth-token": "2/minute"})

    answers = [ask_token(user.username, "guess", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code for n in range(3)]

    assert answers == [400, 400, 429]


def test_the_token_budget_is_its_own(user, throttle_rates):
    throttle_rates(**{"auth-token": "1/minute"})
    ask_token(user.username, "guess")
    assert ask_token(user.username, PASSWORD).status_code == 429

    # The trader's other requests, and the schema for anyone, are on their own budgets.
    assert client_for(user).get("/api/v1/positions/").status_code == 200
    assert APIClient().get("/api/schema/").status_code == 200


def test_each_trader_has_a_budget_of_their_own(throttle_rates):
    throttle_rates(user="2/minute")
    busy, other = UserFactory(), UserFactory()
    busy_api = client_for(busy)

    answers = [busy_api.get("/api/v1/positions/").status_code for _ in range(3)]

    assert answers == [200, 200, 429]
    assert client_for(other).get("/api/v1/positions/").status_code == 200


def test_a_token_script_is_counted_as_its_trader(user, throttle_rates):
    throttle_rates(user="1/minute")
    script = APIClient()
    script.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")

    assert script.get("/api/v1/orders/").status_code == 200
    refused = script.get("/api/v1/orders/")

    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1


def test_anonymous_requests_share_the_address_budget(throttle_rates):
    throttle_rates(anon="1/minute")

    assert APIClient().get("/api/schema/").status_code == 200
    assert APIClient().get("/api/schema/").status_code == 429


def test_an_unreachable_cache_lets_requests_through(user, throttle_rates, monkeypatch):
    throttle_rates(user="1/minute")

    def down(*args, **kwargs):
        raise RedisConnectionError("Connection refused")

    monkeypatch.setattr(cache, "get", down)
    api = client_for(user)

    assert [api.get("/api/v1/positions/").status_code for _ in range(3)] == [200, 200, 200]


def run_settings(env_overrides: dict, tmp_path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("API_THROTTLE")}
    env.update({"VAR_DIR": str(tmp_path), **env_overrides})
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'], settings.REST_FRAMEWORK['NUM_PROXIES'])"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)


@pytest.mark.django_db(False)
def test_rates_come_from_the_environment_and_a_malformed_one_refuses_to_start(tmp_path):
    configured = run_settings(
        {"API_THROTTLE_USER": "30/second", "API_THROTTLE_ANON": "", "API_NUM_PROXIES": "1"}, tmp_path
    )
    malformed = run_settings({"API_THROTTLE_AUTH_TOKEN": "ten a minute"}, tmp_path)

    assert configured.returncode == 0, configured.stderr
    assert configured.stdout.split("\n")[0] == "{'user': '30/second', 'anon': None, 'auth-token': '10/minute'} 1"
    assert malformed.returncode != 0
    assert "API_THROTTLE_AUTH_TOKEN: 'ten a minute' is not a rate" in malformed.stderr
