"""Query-string parameters shared by the API views."""

from rest_framework.exceptions import ValidationError


def query_text(request, name: str) -> str:
    """A free-text filter such as ``?symbol=BTC/USDT``, stripped ("" when absent).

    A NUL character is refused with a 400: PostgreSQL cannot compare a string holding one, so it
    would otherwise end the request in a database error (500).
    """
    value = request.query_params.get(name, "").strip()
    if "\x00" in value:
        raise ValidationError({name: ["Null characters are not allowed."]})
    return value
