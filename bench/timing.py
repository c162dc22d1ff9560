"""Clocks, budgets and query counting shared by the measurements."""

import re
import statistics
import time
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field


class BudgetExceeded(Exception):
    """Raised inside a measured call when its time is up (the work it did so far is counted)."""


class Budget:
    """The whole run's deadline, shared out between the measurements that can be cut short."""

    def __init__(self, seconds: float):
        self.started = time.monotonic()
        self.deadline = self.started + seconds

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def remaining(self, *, reserve: float = 0.0) -> float:
        """Seconds left before the deadline, keeping `reserve` for what comes after."""
        return max(0.0, self.deadline - time.monotonic() - reserve)


INSERT_INTO = re.compile(r'^\s*INSERT INTO "?(\w+)"?')
LEDGER_TABLES = ("notifications_delivery", "notifications_notification")


@dataclass
class Counted:
    queries: int = 0
    inserted: Counter = field(default_factory=Counter)  # rows inserted, by table

    @property
    def rows_written(self) -> int:
        """Rows inserted into the ledger and the in-app notifications."""
        return sum(self.inserted[table] for table in LEDGER_TABLES)


class QueryCounter:
    """Count the queries Django sends (connection.execute_wrapper) and stop the caller at a deadline.

    Server-side cursors (QuerySet.iterator() on PostgreSQL) fetch in further round trips that
    Django does not see as queries: the count is of statements, as CaptureQueriesContext counts.
    """

    def __init__(self, *, deadline: float | None = None):
        self.counted = Counted()
        self.deadline = deadline

    def __call__(self, execute, sql, params, many, context):
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise BudgetExceeded
        self.counted.queries += 1
        result = execute(sql, params, many, context)
        if match := INSERT_INTO.match(sql):
            self.counted.inserted[match[1]] += max(0, context["cursor"].rowcount)
        return result


@contextmanager
def counting_queries(*, deadline: float | None = None):
    """Yield a QueryCounter installed on Django's default connection."""
    from django.db import connection

    counter = QueryCounter(deadline=deadline)
    with connection.execute_wrapper(counter):
        yield counter


@dataclass
class Timed:
    seconds: float
    cpu_seconds: float  # this process's CPU time (Python and the driver; not the database server's)


@contextmanager
def timed():
    """Yield a Timed filled in when the block ends (also when it raises)."""
    result = Timed(0.0, 0.0)
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield result
    finally:
        result.seconds = time.perf_counter() - wall
        result.cpu_seconds = time.process_time() - cpu


def median_time(function: Callable, *, repeat: int = 15, warmup: int = 3) -> float:
    """Return the median wall time of `function()` in seconds, after warming up."""
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)
