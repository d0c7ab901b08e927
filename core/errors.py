"""Domain errors: a refusal the trader can act on, raised by a service and mapped once per surface.

A service raises a ``DomainError`` subclass (``PositionNotClosable``, ``QueueEntryNotQueued``,
``GroupNotOpen``…) instead of returning a flag its callers each turn into words. ``str(error)`` is the
sentence a trader reads; the two surfaces map it in one place each:

- pages: ``core.views.error_message`` (a Django message on the page the trader is sent back to);
- API: ``api_exception_handler`` (DRF's ``EXCEPTION_HANDLER``): ``{"detail": error.api_detail}`` with
  ``error.status_code`` (409: the request was fine, the object is in a state that refuses it).
"""

from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback


class DomainError(Exception):
    """A request the domain refuses in the object's present state; the message says why."""

    status_code = 409

    @property
    def api_detail(self) -> str:
        """The API's ``detail``: the same sentence, unless the API's wording is an older contract of its own."""
        return str(self)


def api_exception_handler(exc, context):
    """DRF's exception handler, with a ``DomainError`` answered as ``{"detail": …}`` and its status."""
    if isinstance(exc, DomainError):
        set_rollback()  # as DRF does for the errors it answers: nothing of a refused request is kept
        return Response({"detail": exc.api_detail}, status=exc.status_code)
    return exception_handler(exc, context)
