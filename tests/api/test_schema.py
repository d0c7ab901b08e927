"""The OpenAPI schema generates without a warning and validates against the OpenAPI 3 spec."""

import io

import yaml
from django.core.management import call_command


def test_schema_generates_without_warnings_and_validates(tmp_path):
    errors = io.StringIO()

    # --fail-on-warn raises on any warning or error drf-spectacular emits; --validate on an invalid schema.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"), stderr=errors)

    assert errors.getvalue().strip() == ""
    schema = yaml.safe_load((tmp_path / "schema.yaml").read_text())
    assert schema["paths"]["/api/v1/auth/token/"]["post"]["responses"].keys() >= {"200", "400", "429"}
