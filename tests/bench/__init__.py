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


def growth_row(
    benchmark: str, *, per: str, cycle: str, sizes: tuple[int, int], costs: list[float], tolerance: float
) -> Row:
    """The row saying whether CPU per ``per`` (order, trader…) stays flat from the small size to the large:
    within ``tolerance``× counts as linear."""
    (small, large), ratio = sizes, costs[1] / costs[0]
    return Row(
        benchmark,
        f"growth: CPU per {per} of {cycle}, {small:,} → {large:,} {per}s",
        f"{costs[0] * 1000:.2f} → {costs[1] * 1000:.2f} ms/{per} (×{ratio:.2f} for ×{large // small} {per}s)",
        f"linear (per-{per} ×≤ {tolerance})",
        ratio <= tolerance,
    )
