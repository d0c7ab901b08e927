"""python -m tests.bench [name …] — run the benchmarks and print one table (markdown)."""

import os
import platform
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from tests.bench import (  # noqa: E402
    fill_sync,
    pages,  # noqa: E402
    paper_matching,
    risk_cycle,  # noqa: E402
    signal_to_orders,
    webhook,
)

BENCHMARKS = {
    "paper_matching": paper_matching,
    "signal_to_orders": signal_to_orders,
    "webhook": webhook,
    "fill_sync": fill_sync,
}
BENCHMARKS["risk_cycle"] = risk_cycle
BENCHMARKS["pages"] = pages


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB, Python {platform.python_version()}, "
        f"PostgreSQL {connection.pg_version}"
    )


def main(names: list[str]) -> int:
    call_command("migrate", verbosity=0)
    chosen = names or list(BENCHMARKS)
    rows = []
    for name in chosen:
        started = time.monotonic()
        print(f"running {name}…", file=sys.stderr, flush=True)
        rows += BENCHMARKS[name].run()
        print(f"  {name} took {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    connection.ensure_connection()
    print(f"\nMachine: {machine()}; broker {settings.CELERY_BROKER_URL.split('://')[0]}\n")
    print("| Benchmark | Measure | Figure | Target | Met |")
    print("|---|---|---|---|---|")
    for row in rows:
        met = "—" if row.met is None else ("yes" if row.met else "**no**")
        print(f"| {row.benchmark} | {row.measure} | {row.figure} | {row.target} | {met} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
