"""Run one function in several threads at the same moment, each with its own database connection."""

import threading

from django.db import connection


def at_once(function, copies: int, *, timeout: float = 60) -> list:
    """Start ``copies`` threads that call ``function()`` together (a barrier); the list of what each
    returned, or the exception it raised, in finishing order."""
    barrier, outcomes = threading.Barrier(copies), []

    def run():
        try:
            barrier.wait(timeout=10)
            outcomes.append(function())
        except Exception as exc:  # noqa: BLE001 - handed to the test as an outcome
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return outcomes
