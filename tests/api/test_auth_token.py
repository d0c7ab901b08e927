"""POST /api/v1/auth/token/: a script trades a username and password for its API token."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import PositionGroupFactory, UserFactory
from trading.api.auth import WRONG_CREDENTIALS

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"  # tests.factories.UserFactory's


def test_a_script_obtains_a_token_and_lists_its_positions_with_it(user):
    mine = PositionGroupFactory(user=user)
    PositionGroupFactory(user=UserFactory(username="someone-else"))
    client = APIClient()

    response = client.post("/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}, format="json")

    assert response.status_code == 200, response.json()
    token = response.json()["token"]
    assert token == Token.objects.get(user=user).key
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    positions = client.get("/api/v1/positions/")
    assert positions.status_code == 200
    assert [p["id"] for p in positions.json()["results"]] == [str(mine.pk)]


def test_asking_again_returns_the_same_token_form_encoded_and_without_the_slash(user):
    first = APIClient().post("/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}, format="json")

    again = APIClient().post("/api/v1/auth/token", {"username": user.username, "password": PASSWORD})  # form body

    assert again.status_code == 200
    assert again.json() == first.json()
    assert Token.objects.filter(user=user).count() == 1


def test_a_wrong_password_is_refused_with_a_clear_message_and_no_token(user):
    response = APIClient().post("/api/v1/auth/token/", {"username": user.username, "password": "guess"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": [WRONG_CREDENTIALS]}
    assert not Token.objects.filter(user=user).exists()


@pytest.mark.parametrize("body, missing", [({"username": "x"}, "password"), ({"password": "x"}, "username")])
def test_a_missing_field_is_named(body, missing):
    response = APIClient().post("/api/v1/auth/token/", body, format="json")

    assert response.status_code == 400
    assert missing in response.json()


def test_a_disabled_account_gets_no_token(user):
    user.is_active = False
    user.save(update_fields=["is_active"])

    response = APIClient().post("/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}, format="json")

    assert response.status_code == 400
    assert not Token.objects.filter(user=user).exists()


def test_a_signed_in_browser_needs_no_csrf_token_to_ask(user):
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(user)

    response = browser.post("/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}, format="json")

    assert response.status_code == 200


def test_without_a_valid_token_a_script_is_told_what_to_send(user):
    PositionGroupFactory(user=user)
    client = APIClient()

    missing = client.get("/api/v1/positions/")
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    wrong = client.get("/api/v1/positions/")

    assert (missing.status_code, missing["WWW-Authenticate"]) == (401, "Token")
    assert (wrong.status_code, wrong.json()["detail"]) == (401, "Invalid token.")
