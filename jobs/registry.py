"""Which work each job kind does: the apps register a runner per kind, the worker looks it up.

The jobs app sits below the apps whose work it runs (it imports none of them): ``exchanges``,
``notifications``, ``trading`` and ``risk`` each register their kinds in ``<app>/job_kinds.py``,
imported by their ``AppConfig.ready`` so the web process and the worker know the same kinds.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class JobOutcome:
    """What a runner reports: whether it did what was asked, the sentence for the trader, the API body."""

    ok: bool
    message: str
    result: dict | None = None


Runner = Callable[..., JobOutcome]  # runner(job) -> JobOutcome; exchange and Telegram I/O allowed
_RUNNERS: dict[str, Runner] = {}


def job_kind(name: str):
    """Register the decorated function as the runner of jobs of kind ``name``."""

    def register(runner: Runner) -> Runner:
        if _RUNNERS.get(name, runner) is not runner:
            raise ImproperlyConfigured(f"job kind {name!r} is registered twice")
        _RUNNERS[name] = runner
        return runner

    return register


def runner_for(kind: str) -> Runner | None:
    return _RUNNERS.get(kind)
