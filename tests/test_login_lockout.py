"""Password guessing on the login pages: a username is locked out from an address after
``LOGIN_FAILURE_LIMIT`` wrong passwords (django-axes), even for the right one; other addresses and
other usernames log in as usual. The API token endpoint honours the same lockout and keeps its own
throttle (tests/api/test_throttling.py).
"""

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.authtoken.models import Token

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"
LOGIN_PAGES = ["/accounts/login/", "/admin/login/"]


LIMIT = 5  # LOGIN_FAILURE_LIMIT's default


@pytest.fixture(autouse=True)
def lockout_defaults(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT  # whatever the environment of the test run says
    cache.clear()  # the token endpoint's per-address budget lives in the cache
    yield
    cache.clear()


def access_attempts():
    """django-axes' records of failed logins (admin → Axes → Access attempts)."""
    from axes.models import AccessAttempt  # imported late: the app must be installed for the model to load

    return AccessAttempt.objects


def log_in(client: Client, page: str, username: str, password: str, **headers):
    return client.post(page, {"username": username, "password": password}, **headers)


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def guess(client: Client, page: str, username: str, times: int, **headers) -> list[int]:
    return [log_in(client, page, username, f"guess-{n}", **headers).status_code for n in range(times)]


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_the_right_password_is_refused_after_too_many_wrong_ones(page):
    # Given a trader (staff, so that the admin login would let them in)
    trader = UserFactory(is_staff=True)
    attacker = Client(REMOTE_ADDR="203.0.113.66")

    # When someone tries LOGIN_FAILURE_LIMIT wrong passwords for them from one address
    answers = guess(attacker, page, trader.username, LIMIT)

    # Then the last one is already answered with the lockout, and so is the right password afterwards
    assert answers == [200] * (LIMIT - 1) + [429]
    refused = log_in(attacker, page, trader.username, PASSWORD)
    assert refused.status_code == 429
    assert "Too many wrong passwords" in refused.content.decode()
    assert not logged_in(attacker)
    # The operator sees who was locked out from where, in admin (Axes → Access attempts)
    attempt = access_attempts().get(username=trader.username)
    assert (attempt.ip_address, attempt.failures_since_start) == ("203.0.113.66", LIMIT)


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_another_address_or_another_username_is_not_locked(page):
    trader, colleague = UserFactory(is_staff=True), UserFactory(is_staff=True)
    guess(Client(REMOTE_ADDR="203.0.113.66"), page, trader.username, LIMIT)

    # The trader, from their own address, logs in
    at_home = Client(REMOTE_ADDR="198.51.100.7")
    assert log_in(at_home, page, trader.username, PASSWORD).status_code == 302
    assert logged_in(at_home)
    # Another trader, from the attacker's very address, logs in too
    shared_address = Client(REMOTE_ADDR="203.0.113.66")
    assert log_in(shared_address, page, colleague.username, PASSWORD).status_code == 302
    assert logged_in(shared_address)


def test_the_admin_lists_the_lockouts_for_operators(admin_client):
    trader = UserFactory()
    guess(Client(REMOTE_ADDR="203.0.113.66"), "/accounts/login/", trader.username, LIMIT)

    page = admin_client.get("/admin/axes/accessattempt/")

    assert page.status_code == 200
    assert trader.username in page.content.decode() and "203.0.113.66" in page.content.decode()


def test_behind_a_trusted_proxy_the_lockout_is_per_forwarded_client(settings):
    # Given nginx on 10.0.0.5, trusted to name the client in X-Forwarded-For
    settings.WEBHOOK_TRUSTED_PROXIES = ["10.0.0.0/8"]
    trader = UserFactory()
    proxy = Client(REMOTE_ADDR="10.0.0.5")

    # When one client behind it guesses until locked out
    answers = guess(proxy, "/accounts/login/", trader.username, LIMIT, HTTP_X_FORWARDED_FOR="203.0.113.66")

    # Then that client is locked out, and the trader reaching the same proxy from elsewhere is not
    assert answers[-1] == 429
    assert access_attempts().get(username=trader.username).ip_address == "203.0.113.66"
    assert (
        log_in(proxy, "/accounts/login/", trader.username, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.66").status_code
        == 429
    )
    assert (
        log_in(proxy, "/accounts/login/", trader.username, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7").status_code
        == 302
    )


def test_a_made_up_forwarded_for_header_buys_no_fresh_attempts():
    # No trusted proxy configured: X-Forwarded-For is the client's own say, and ignored.
    trader = UserFactory()
    attacker = Client(REMOTE_ADDR="203.0.113.66")

    answers = [
        log_in(attacker, "/accounts/login/", trader.username, "guess", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}").status_code
        for n in range(LIMIT)
    ]

    assert answers[-1] == 429
    assert (
        log_in(attacker, "/accounts/login/", trader.username, PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.200").status_code
        == 429
    )


def test_the_token_endpoint_refuses_a_locked_out_username_with_429(settings):
    # Given a trader locked out from an address on the login page
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "auth-token": None},
    }  # the lockout, not the throttle
    trader = UserFactory()
    guess(Client(REMOTE_ADDR="203.0.113.66"), "/accounts/login/", trader.username, LIMIT)

    # When a script asks for their token from that address, with the right password
    refused = Client(REMOTE_ADDR="203.0.113.66").post(
        "/api/v1/auth/token/", {"username": trader.username, "password": PASSWORD}, content_type="application/json"
    )

    # Then it is refused, saying why and for how long; from another address it gets the token
    assert refused.status_code == 429
    assert "locked for 15 minutes" in refused.json()["detail"]
    assert int(refused["Retry-After"]) == 15 * 60
    assert not Token.objects.filter(user=trader).exists()
    granted = Client(REMOTE_ADDR="198.51.100.7").post(
        "/api/v1/auth/token/", {"username": trader.username, "password": PASSWORD}, content_type="application/json"
    )
    assert granted.status_code == 200 and granted.json()["token"] == Token.objects.get(user=trader).key


def test_wrong_passwords_on_the_token_endpoint_count_towards_the_lockout(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "auth-token": None},
    }
    trader = UserFactory()
    script = Client(REMOTE_ADDR="203.0.113.66")

    answers = [
        script.post(
            "/api/v1/auth/token/", {"username": trader.username, "password": "guess"}, content_type="application/json"
        ).status_code
        for _ in range(LIMIT)
    ]

    assert answers == [400] * (LIMIT - 1) + [429]
    assert log_in(script, "/accounts/login/", trader.username, PASSWORD).status_code == 429


def test_an_overlong_username_is_a_400_at_the_field_not_a_server_error():
    answer = Client(REMOTE_ADDR="203.0.113.66").post(
        "/api/v1/auth/token/", {"username": "x" * 300, "password": "guess"}, content_type="application/json"
    )

    assert answer.status_code == 400
    assert "username" in answer.json()
    assert not access_attempts().exists()
