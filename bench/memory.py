"""
Memory: peak RSS of `manage.py run_reminders` planning everything from an empty ledger.

Each planning job runs once in its own process (so a job that grows with the data is named), then
`run_reminders all` runs as cron runs it, when the time budget allows. In that run the delivery job
runs with a batch size of 0 (NOTIFICATIONS_DISPATCH_BATCH_SIZE): it claims nothing, as when other
workers have taken every due row. Sending every planned message would take hours at the large size;
the dispatch workers' memory is measured with dispatch.
"""

import datetime as dt
import sys
from dataclasses import dataclass

import psycopg

from . import processes
from .database import app_env
from .planning import PlanningRow, empty_ledger, planning_jobs
from .sizes import Size
from .timing import Budget

MINIMUM_SECONDS = 10.0


@dataclass
class MemoryRow:
    command: str
    peak_rss_mb: float
    seconds: float
    finished: bool
    still_growing: bool | None  # None: too short to tell
    note: str = ""


def _command(names: list[str], now: dt.datetime) -> list[str]:
    return [sys.executable, "manage.py", "run_reminders", *names, "--now", now.isoformat()]


def _row(label: str, result: processes.ProcessResult, note: str = "") -> MemoryRow:
    if result.returncode not in (0, -15) and not result.timed_out:
        note = f"failed ({result.returncode}): {result.stderr.strip().splitlines()[-1:]}"
    elif result.timed_out:
        note = note or f"stopped after {result.seconds:.0f} s (time budget)"
    return MemoryRow(label, result.peak_rss_mb, result.seconds, result.ok, result.still_growing, note)


def run_memory(
    conn: psycopg.Connection,
    *,
    url: str,
    size: Size,
    now: dt.datetime,
    planning: list[PlanningRow],
    budget: Budget,
    reserve: float,
) -> list[MemoryRow]:
    """Measure the peak RSS of `run_reminders all` (when it fits in the budget), then of each job alone."""
    env = app_env(url, LOG_LEVEL="WARNING")
    rows = []
    # A run with nothing to plan: what the command costs before any data (imports, Django, the driver).
    idle = processes.run(_command(["session_15min"], now - dt.timedelta(days=365)), env=env, timeout=60)
    rows.append(_row("run_reminders session_15min (nothing due: baseline)", idle))

    jobs = planning_jobs()
    expected = {row.job: row.app_seconds for row in planning}
    # `run_reminders all` first, when it fits in the budget: it is what cron runs.
    everything = sum(expected.values()) * 1.1 + 5
    if budget.remaining(reserve=reserve) > everything:
        empty_ledger(conn, size=size, now=now)
        quiet = {**env, "NOTIFICATIONS_DISPATCH_BATCH_SIZE": "0"}
        result = processes.run(_command(["all"], now), env=quiet, timeout=budget.remaining(reserve=reserve))
        sent = conn.execute("SELECT count(*) FROM notifications_delivery WHERE status <> 'pending'").fetchone()[0]
        row = _row("run_reminders all (delivery claims nothing)", result, f"{sent:,} rows sent!" if sent else "")
        row.still_growing = None  # one job after another: the per-job rows below say which one grows
        rows.append(row)
    else:
        note = f"not run: it needs about {everything:.0f} s, more than the time left (see the jobs one by one)"
        rows.append(MemoryRow("run_reminders all", 0.0, everything, False, None, note))

    # Then each job in a process of its own, to name the one that grows with the data: the quickest
    # first, so that a tight budget still lets most of them finish.
    empty_ledger(conn, size=size, now=now)
    jobs.sort(key=lambda job: expected.get(job.name, 0.0))
    for index, job in enumerate(jobs):
        # An equal share each (what a short job leaves goes to the next): a job stopped early still
        # shows whether its memory keeps growing, and the long job must not starve the others.
        allowed = max(MINIMUM_SECONDS, budget.remaining(reserve=reserve) / (len(jobs) - index))
        result = processes.run(_command([job.short_name], now), env=env, timeout=allowed)
        rows.append(_row(f"run_reminders {job.short_name}", result))
    return rows
