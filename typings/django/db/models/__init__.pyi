# Partial stubs, for mypy only (pyproject.toml [tool.mypy] mypy_path): Django ships no type information.
# Every name not declared here is Any, as it is without these files. Declared: the choices enums, so that
# a member (``ExitReason.MANUAL = "manual", "Manual"``) is the enum member, a str, not the tuple written
# in the class body; ``.label``, ``.choices`` and ``.values`` as Django defines them.
import enum
from typing import Any

def __getattr__(name: str) -> Any: ...

class ChoicesType(enum.EnumMeta):
    @property
    def choices(self) -> list[tuple[Any, str]]: ...
    @property
    def labels(self) -> list[str]: ...
    @property
    def values(self) -> list[Any]: ...

# mypy asks an enum in a stub to declare its members; these are bases, their members are the subclasses'.
class Choices(enum.Enum, metaclass=ChoicesType):  # type: ignore[misc]
    @property
    def label(self) -> str: ...

class TextChoices(str, Choices):  # type: ignore[misc]
    @property
    def value(self) -> str: ...
