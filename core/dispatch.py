"""Celery task objects by name, for each app's dispatch module (the one module per app that enqueues).

Services enqueue through their app's dispatch; dispatch finds the task in Celery's registry instead of
importing the tasks module, which imports the services: so no service imports tasks, at module level
or inside a function. Each app's ``AppConfig.ready()`` imports its tasks module, registering the tasks
in every process (web, worker, tests), before anything is enqueued.
"""

from celery import current_app


def task(name: str):
    """The registered task ``name`` (e.g. ``"trading.tasks.route_signal_task"``): ``.delay()`` it as the
    task object itself (eager under ``task_always_eager``, as in the tests)."""
    return current_app.tasks[name]
