# Partial stubs, for mypy only (pyproject.toml [tool.mypy] mypy_path): Django ships no type information.
# Every name not declared here is Any, as it is without these files.
from typing import Any

def __getattr__(name: str) -> Any: ...
