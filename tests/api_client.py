"""The API client every API test uses: DRF's test client, authenticated as one user."""

from rest_framework.test import APIClient


def client_for(user) -> APIClient:
    """An API client acting as ``user`` (``force_authenticate``: no token or session needed)."""
    client = APIClient()
    client.force_authenticate(user)
    return client
