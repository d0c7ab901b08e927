"""The trader's DCA configurations: saved and deleted, for the pages and the API alike."""

from collections.abc import Callable

from django.db import IntegrityError, transaction

from trading.errors import DCAConfigurationClash
from trading.models import DCAConfiguration
from trading.selectors import dca_configuration_clash

SAVED_AT_THE_SAME_MOMENT = "This configuration conflicts with another one saved at the same moment; reload and retry."


def dca_config_save(save: Callable[[], DCAConfiguration], *, probe: Callable[[], DCAConfiguration]) -> DCAConfiguration:
    """Run ``save`` (the form's or the serializer's, already validated) in its own transaction.

    A concurrent save can still win the unique constraint after the validation's check: that raises
    ``DCAConfigurationClash``, naming the configuration that won, found from ``probe()`` (the
    configuration as it was to be saved).
    """
    try:
        with transaction.atomic():
            return save()
    except IntegrityError:
        raise DCAConfigurationClash(dca_configuration_clash(probe()) or SAVED_AT_THE_SAME_MOMENT) from None


def dca_config_delete(*, config: DCAConfiguration) -> None:
    """Delete the configuration; open positions keep the snapshot of it they were opened with."""
    config.delete()
