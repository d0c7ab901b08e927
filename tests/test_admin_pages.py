"""Every admin list and add page opens for an operator, with records present."""

import pytest
from django.contrib import admin

from tests.factories import DCAConfigurationFactory, OrderFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_every_registered_admin_list_renders(client):
    operator = UserFactory(username="operator", is_staff=True, is_superuser=True)
    DCAConfigurationFactory(user=operator)
    OrderFactory(group__user=operator)
    client.force_login(operator)

    for model in admin.site._registry:
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        response = client.get(url)
        assert response.status_code == 200, url


def test_engine_written_records_cannot_be_edited_in_admin(client):
    operator = UserFactory(username="operator", is_staff=True, is_superuser=True)
    order = OrderFactory(group__user=operator)
    client.force_login(operator)

    assert client.get("/admin/trading/order/add/").status_code == 403
    page = client.get(f"/admin/trading/order/{order.pk}/change/").content.decode()
    assert 'name="_save"' not in page
