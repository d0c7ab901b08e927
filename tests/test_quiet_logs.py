"""A calm terminal: the engine's routine is not narrated at INFO; what it does, and every warning, is."""

import logging

import pytest

from config.log_filters import QuietRoutine


def record(name: str, message: str, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, None, None)


ROUTINE = [
    record("celery.beat", "Scheduler: Sending due task paper-feed-tick (exchanges.tasks.paper_feed_tick_task)"),
    record("celery.worker.strategy", "Task trading.tasks.sync_fills_task[2f10d] received"),
    record("celery.app.trace", "Task trading.tasks.sync_symbol_task[9a] succeeded in 0.01s: None"),
    record("django.server", '"GET /healthz HTTP/1.1" 200 143'),
    record("django.server", '"GET /partials/positions/ HTTP/1.1" 200 5120'),
]
KEPT = [
    record("celery.worker.strategy", "Task trading.tasks.route_signal_task[1a] received"),
    record("celery.app.trace", "Task trading.tasks.close_position_task[2b] succeeded in 0.2s: None"),
    record("celery.app.trace", "Task trading.tasks.sync_symbol_task[9a] raised: ExchangeError", logging.ERROR),
    record("trading.services.transitions", "order dce1 (take_profit): open -> filled"),
    record("django.server", '"GET /healthz HTTP/1.1" 503 40', logging.ERROR),
    record("django.server", '"GET /partials/positions/ HTTP/1.1" 500 0', logging.ERROR),
    record("django.server", '"POST /webhooks/abc/tradingview HTTP/1.1" 202 80'),
]


@pytest.mark.parametrize("line", ROUTINE, ids=lambda r: r.getMessage()[:40])
def test_routine_lines_are_not_printed(line, settings):
    settings.LOG_ROUTINE = False
    assert QuietRoutine().filter(line) is False


@pytest.mark.parametrize("line", KEPT, ids=lambda r: r.getMessage()[:40])
def test_work_that_matters_and_every_problem_is_printed(line, settings):
    settings.LOG_ROUTINE = False
    assert QuietRoutine().filter(line) is True


def test_log_routine_prints_everything(settings):
    settings.LOG_ROUTINE = True
    assert all(QuietRoutine().filter(line) for line in ROUTINE)


def test_the_console_handler_carries_the_filter():
    console = [h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler]  # settings.LOGGING's
    assert console and all(any(isinstance(f, QuietRoutine) for f in h.filters) for h in console)
