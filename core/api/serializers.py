"""Serializer plumbing every app's API uses: model errors as DRF errors, JSON refusing NUL characters,
choice sets named once in the OpenAPI schema, and the error shape of a refused request."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import build_choice_field
from rest_framework import serializers
from rest_framework.settings import api_settings


def drf_errors(exc: DjangoValidationError) -> dict:
    """A model's ``ValidationError`` as DRF error details; model-wide errors under ``non_field_errors``."""
    errors = exc.message_dict
    if "__all__" in errors:
        errors[api_settings.NON_FIELD_ERRORS_KEY] = errors.pop("__all__")
    return errors


NUL = "\x00"


def contains_nul(value) -> bool:
    """Whether a NUL character is anywhere in a JSON value, keys included."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(contains_nul(key) or contains_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(contains_nul(item) for item in value)
    return False


class NulFreeJSONField(serializers.JSONField):
    """DRF's JSON field refusing NUL characters, which PostgreSQL's jsonb cannot store: a 400 naming the
    field instead of a database error (500). DRF's CharField already refuses them in plain text."""

    default_error_messages = {"null_characters": "Null characters are not allowed."}

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if contains_nul(value):
            self.fail("null_characters")
        return value


class NulFreeModelSerializer(serializers.ModelSerializer):
    """DRF's, with the model's JSON fields mapped to the ``NulFreeJSONField`` above."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.JSONField: NulFreeJSONField,
    }


class NamedChoiceField(serializers.ChoiceField):
    """A choice field whose choices are one named enum in the OpenAPI schema, wherever it is used.

    drf-spectacular names enums after the field; ``side`` holds two choice sets (a position's
    long/short, an order's buy/sell) and one set (market/limit) is used by two field names
    (``order_type``, ``entry_order_type``), which it reports as naming collisions. Naming those
    enums here keeps the schema warning-free without a project-wide ENUM_NAME_OVERRIDES setting.
    Use it only for choice sets without a blank or null choice (the component is shared as is).
    """

    def __init__(self, *, enum_name: str, **kwargs):
        self.enum_name = enum_name
        super().__init__(**kwargs)


class NamedChoiceFieldSchema(OpenApiSerializerFieldExtension):
    target_class = NamedChoiceField

    def get_name(self):
        return self.target.enum_name

    def map_serializer_field(self, auto_schema, direction):
        schema = build_choice_field(self.target)
        schema.pop("x-spec-enum-id", None)
        return schema


class ErrorSerializer(serializers.Serializer):
    """Why a request was refused, in words a trader can act on."""

    detail = serializers.CharField()
