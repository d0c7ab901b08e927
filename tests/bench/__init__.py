"""Benchmarks: ``make bench`` runs them on throwaway PostgreSQL and Redis and prints one table.

Each benchmark module exposes ``run() -> list[Row]``. Figures are printed, never asserted.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    benchmark: str
    measure: str
    figure: str
    target: str
    met: bool | None  # None where there is no target
