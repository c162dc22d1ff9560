"""
Planning: each planning job of the registry against the SQL floor, on the same data in the same run.

For every job: empty the ledger, make its rows with the floor's hand-written SQL, take a checksum;
empty the ledger again, run the job's function (automation.jobs.JOBS) with the benchmark's `now` in a
process of its own (bench.planning_worker, which also gives its peak RSS), take a checksum. Equal
checksums mean both made exactly the same rows. A job that runs past its share of the time budget is
stopped; its rate so far gives a projection, marked as such.
"""

import dataclasses
import datetime as dt
import json
import re
import sys
import time
from urllib.parse import parse_qs, urlsplit

import psycopg

from automation.jobs import JOBS
from leads.campaigns import read_lead_ref
from notifications.kinds import get_kind
from notifications.rendering import render_email

from . import data, floor, floor_before, processes
from .database import app_env
from .sizes import Size
from .timing import Budget, counting_queries, timed

MINIMUM_JOB_SECONDS = 5.0
# A job that runs for less than this is timed this many times (from an empty ledger each) and its median
# kept: at the small size a run is a few tenths of a second, whose time a recipient moved ±20 % between runs.
SHORT_RUN_SECONDS, SHORT_RUN_TIMES = 3.0, 5


@dataclasses.dataclass
class PlanningRow:
    job: str
    recipients: int
    rows: int  # ledger rows plus in-app rows the job makes
    floor_ledger_seconds: float
    floor_seconds: float
    app_seconds: float  # projected from its rate when it did not finish
    app_cpu_seconds: float
    queries: int  # projected too when it did not finish
    finished: bool
    done: float  # fraction of the rows made before it was stopped
    same_rows: bool | None  # checksums of the floor's and the app's rows agree (None: not finished)
    rerun_seconds: float | None = None  # planning again at once: nothing new to make (an incremental run)
    rerun_queries: int | None = None
    sweep_seconds: float | None = None  # again, as a full run (the periodic sweep): nothing new either
    peak_rss_mb: float = 0.0  # of the process that ran the job
    still_growing: bool | None = None  # its memory still rising late in the run (None: too short to tell)
    inapp_bytes_per_row: float | None = None  # notifications_notification (heap, TOAST, indexes) a row it made

    @property
    def us_per_recipient(self) -> float:
        """The whole job's time (its in-app rows too) per recipient, in microseconds."""
        return self.app_seconds * 1_000_000 / self.recipients if self.recipients else float("nan")

    @property
    def ratio(self) -> float:
        return self.app_seconds / self.floor_seconds if self.floor_seconds else float("inf")

    @property
    def rerun_share(self) -> float | None:
        """A run with nothing new, as a share of the first run's time."""
        if self.rerun_seconds is None or not self.app_seconds:
            return None
        return self.rerun_seconds / self.app_seconds


@dataclasses.dataclass
class DayResult:
    """A simulated day of one job's scheduled runs (every interval of its schedule), from an empty ledger."""

    job: str
    runs: int
    full_runs: int
    seconds: float  # all the runs together (incremental, but for the first)
    rows: int  # what they planned
    first_run_seconds: float  # the job planning its whole window from empty (the planning measurement)
    first_run_rows: int
    finished: bool
    # The full sweeps of a day (PLANNING_FULL_SWEEP_MINUTES) at a full window's cost (the planning
    # measurement's "full sweep"): added, since a day that starts from an empty ledger sweeps emptier windows.
    sweeps: float = 0.0
    sweep_seconds: float = 0.0

    @property
    def day_seconds(self) -> float:
        return self.seconds + self.sweeps * self.sweep_seconds

    @property
    def productive_seconds(self) -> float:
        """The day's rows at the first run's cost a row: the work itself."""
        return self.first_run_seconds * self.rows / self.first_run_rows if self.first_run_rows else float("nan")

    @property
    def ratio(self) -> float:
        return self.day_seconds / self.productive_seconds if self.productive_seconds else float("nan")


def planning_jobs() -> list:
    """The registry's planning jobs (all but delivery), in registry order."""
    return [job for job in JOBS if job.name in floor.FLOORS]


def empty_ledger(conn: psycopg.Connection, *, size: Size, now: dt.datetime) -> None:
    """Remove every delivery (the app's and the floor's) and in-app notification, and put the leads'
    follow-up flags back."""
    conn.execute(
        "TRUNCATE notifications_delivery, notifications_deliveryevent, notifications_notification,"
        " notifications_messagegroup, notifications_messageevent CASCADE"
    )
    conn.execute(floor_before.TODAY_LAYOUT)  # the layout before, for bench.ledger
    conn.execute("DELETE FROM lms_planningmark")  # the next run of each job is a first one (a full run)
    data.reset_leads(conn, size=size, now=now)


def inapp_bytes_per_row(conn: psycopg.Connection) -> float | None:
    """Bytes on disk (heap, TOAST, indexes) a row of the in-app table, None when it is empty."""
    rows = conn.execute("SELECT count(*) FROM notifications_notification").fetchone()[0]
    if not rows:
        return None
    return conn.execute("SELECT pg_total_relation_size('notifications_notification')").fetchone()[0] / rows


def _campaign_links_open(conn: psycopg.Connection) -> bool:
    """Render a few of the floor's campaign emails as dispatch does and check their signed links open."""
    rows = conn.execute(
        "SELECT d.id, e.kind, e.subject_id, d.own_context FROM notifications_delivery d"
        " JOIN notifications_messageevent e ON e.id = d.event_id WHERE e.subject_type = 'leads.lead' LIMIT 20"
    ).fetchall()
    for pk, kind, lead_id, context in rows:
        text = render_email(kind=get_kind(kind), context=context, delivery_id=pk, send=True).text
        ref = parse_qs(urlsplit(re.search(r"https?://\S+/start/\S+", text).group(0)).query)["ref"][0]
        if read_lead_ref(ref) != lead_id:
            return False
    return True


def run_planning(
    conn: psycopg.Connection, *, url: str, size: Size, now: dt.datetime, budget: Budget, reserve: float
) -> list[PlanningRow]:
    """Measure every planning job; the app's runs share the time left after `reserve`."""
    jobs = planning_jobs()
    floors, checksums = {}, {}
    for job in jobs:
        empty_ledger(conn, size=size, now=now)
        floors[job.name] = floor.run_floor(conn, job=job.name, now=now)
        checksums[job.name] = floor.checksum(conn)
        if job.name == "lead_follow_ups" and not _campaign_links_open(conn):
            raise RuntimeError("The campaign emails the floor planned render links that do not open.")

    app_seconds = budget.remaining(reserve=reserve)
    rows = []
    for index, job in enumerate(jobs):
        result = floors[job.name]
        weight = result.total_seconds / sum(floors[other.name].total_seconds for other in jobs[index:])
        allowed = max(MINIMUM_JOB_SECONDS, min(app_seconds, budget.remaining(reserve=reserve)) * weight)
        empty_ledger(conn, size=size, now=now)
        row = _measure_app(job, url=url, now=now, floor_result=result, allowed=allowed)
        if row.finished and row.app_seconds < SHORT_RUN_SECONDS:
            runs = [row]
            for _ in range(SHORT_RUN_TIMES - 1):
                empty_ledger(conn, size=size, now=now)
                runs.append(_measure_app(job, url=url, now=now, floor_result=result, allowed=allowed))
            median = sorted(runs, key=lambda run: run.app_seconds)[len(runs) // 2]
            row = dataclasses.replace(runs[-1], app_seconds=median.app_seconds, app_cpu_seconds=median.app_cpu_seconds)
        if row.finished:
            row.same_rows = floor.checksum(conn) == checksums[job.name]
            row.inapp_bytes_per_row = inapp_bytes_per_row(conn)
            if budget.remaining(reserve=reserve) > row.app_seconds:
                with counting_queries() as counter, timed() as clock:
                    job.function(now=now, dry_run=False)
                row.rerun_seconds, row.rerun_queries = clock.seconds, counter.counted.queries
                conn.execute("DELETE FROM lms_planningmark")
                with timed() as clock:
                    job.function(now=now, dry_run=False)
                row.sweep_seconds = clock.seconds
        app_seconds = max(0.0, app_seconds - row.app_seconds * row.done)
        rows.append(row)
    return rows


def _measure_app(job, *, url: str, now: dt.datetime, floor_result: floor.FloorResult, allowed: float) -> PlanningRow:
    """Run the job in a process of its own (bench.planning_worker): its time, queries and peak RSS."""
    args = [sys.executable, "-m", "bench.planning_worker", job.name, now.isoformat(), str(allowed)]
    # The worker stops itself at its next query after `allowed`; a single long statement may run past it.
    process = processes.run(args, env=app_env(url, LOG_LEVEL="WARNING"), timeout=allowed + max(60.0, allowed))
    lines = process.stdout.strip().splitlines()
    if process.returncode not in (0, -15) and not process.timed_out:
        raise RuntimeError(f"{job.name} failed: {process.stderr.strip()[-2000:]}")
    report = json.loads(lines[-1]) if lines else {"finished": False, "seconds": process.seconds}
    expected_rows = floor_result.deliveries + floor_result.notifications
    finished = report["finished"]
    made = report.get("rows_written", 0)
    done = 1.0 if finished else (made / expected_rows if expected_rows else 0.0)
    scale = 1.0 / done if done else 1.0  # killed inside one statement: what it took is a lower bound
    return PlanningRow(
        job=job.name,
        recipients=floor_result.recipients,
        rows=expected_rows,
        floor_ledger_seconds=floor_result.ledger_seconds,
        floor_seconds=floor_result.total_seconds,
        app_seconds=report["seconds"] * scale,
        app_cpu_seconds=report.get("cpu_seconds", process.cpu_seconds) * scale,
        queries=round(report.get("queries", 0) * scale),
        finished=finished,
        done=done,
        same_rows=None,
        peak_rss_mb=process.peak_rss_mb,
        still_growing=process.still_growing,
    )


def simulate_day(
    conn: psycopg.Connection, *, job_name: str, size: Size, now: dt.datetime, first: PlanningRow, deadline: float
) -> DayResult:
    """Run `job_name` at every run time of its schedule through the day before `now` (in this process,
    from an empty ledger): the sessions enter its window a run's interval at a time, as in production,
    and its full sweeps (lms PLANNING_FULL_SWEEP_MINUTES) are added at the cost of a sweep of the whole
    window (`first.sweep_seconds`). Stops at `deadline` (monotonic)."""
    from django.test import override_settings

    from automation.jobs import get_job
    from lms.conf import conf as lms_conf
    from lms.models import PlanningMark

    job = get_job(job_name)
    step = job.schedule.interval
    runs = int(dt.timedelta(days=1) / step)
    empty_ledger(conn, size=size, now=now)
    every = lms_conf.planning_full_sweep_minutes
    result = DayResult(job_name, 0, 0, 0.0, 0, first.app_seconds, first.rows, finished=False)
    result.sweeps = runs if not every else 24 * 60 / every
    result.sweep_seconds = first.sweep_seconds or 0.0
    for index in range(1, runs + 1):
        if time.monotonic() > deadline:
            return result
        moment = now - dt.timedelta(days=1) + step * index
        # The sweeps are counted apart (above): none in the runs themselves.
        with override_settings(PLANNING_FULL_SWEEP_MINUTES=7 * 24 * 60), timed() as clock:
            planned = job.function(now=moment, dry_run=False)
        result.runs += 1
        result.seconds += clock.seconds
        result.rows += planned.total
        result.full_runs += PlanningMark.objects.filter(rule=job_name, runs_since_sweep=0).exists()
    result.finished = True
    return result
