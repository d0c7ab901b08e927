"""The models and their migrations agree: a model change ships with its migration."""

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_no_model_change_lacks_a_migration():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)  # SystemExit(1) when one is missing
