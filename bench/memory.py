"""
Memory: peak RSS of planning everything from an empty ledger.

Each planning job's peak comes from the process that planning ran it in (bench.planning_worker), so a
job that grows with the data is named without planning it again. Then `run_reminders all` runs as cron
runs it, when the time budget allows. In that run the delivery job runs with a batch size of 0
(NOTIFICATIONS_DISPATCH_BATCH_SIZE): it claims nothing, as when other workers have taken every due
row. Sending every planned message would take hours at the large size; the dispatch workers' memory
is measured with dispatch.
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
    """Measure the peak RSS of `run_reminders all` (when it fits in the budget); add each job's from planning."""
    env = app_env(url, LOG_LEVEL="WARNING")
    rows = []
    # A run with nothing to plan: what the command costs before any data (imports, Django, the driver).
    idle = processes.run(_command(["session_15min"], now - dt.timedelta(days=365)), env=env, timeout=60)
    rows.append(_row("run_reminders session_15min (nothing due: baseline)", idle))

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

    short_names = {job.name: job.short_name for job in planning_jobs()}
    for row in planning:
        note = "" if row.finished else "stopped at its time budget"
        label = f"planning {short_names[row.job]} (bench.planning_worker)"
        rows.append(MemoryRow(label, row.peak_rss_mb, row.app_seconds, row.finished, row.still_growing, note))
    return rows
