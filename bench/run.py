"""The measurements in order, within the run's time budget; each one's failure is reported, not fatal."""

import datetime as dt
import time
import traceback

from django.utils import timezone

from automation.jobs import get_job

from . import PHASES, data, database
from .blast import ONE_WORKER_SECONDS, SETUPS, run_blast
from .dispatch import WORKER_COUNTS, run_dispatch
from .lead_import import run_import
from .ledger import run_ledger
from .machine import describe, load_average
from .memory import run_memory
from .planning import run_planning, simulate_day
from .report import Results
from .sizes import Size
from .timing import Budget
from .web import run_web
from .year import run_year

TEARDOWN_SECONDS = 15
DAY_JOB = "session_reminders_24h"
WEB_SECONDS = 30
IMPORT_SECONDS = 60  # two imports of 100,000 rows: 40 s at the 5,000 rows/s target, about 25 s today


def run_all(*, args, size: Size, url: str, log) -> Results:
    budget = Budget(args.budget_minutes * 60)
    now = timezone.now().replace(microsecond=0)
    conn = database.connect(url)
    conn.autocommit = True
    database.set_column_defaults(conn)
    log(f"generating data: {size.enrollments:,} enrollments, {size.sessions:,} sessions in the next 24 h")
    timings = data.generate(conn, size=size, now=now)
    results = Results(
        size=size.name,
        started=dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        now=now.isoformat(),
        machine=describe(conn),
        data=data.count_rows(conn, now=now),
        data_seconds=sum(timings.values()),
        latency_ms=args.latency_ms,
    )
    # Each run: start-up, then its messages a hundred to a request (Postmark's batch API), several
    # requests in flight, plus our own work (about 0.5 ms a message).
    per_message = args.latency_ms / 1000 / 100 + 0.002
    dispatch_seconds = 2 * len(WORKER_COUNTS) * (args.messages_per_worker * per_message + 7)
    needs = {
        "web": WEB_SECONDS,
        "dispatch": dispatch_seconds,
        # Two inserts of the 24-hour job's rows in each layout: about 200 s at 1M enrollments.
        "ledger": 10 + 200 * size.enrollments / 1_000_000,
        # A year of days at the size's simulated volume, its retention runs, and planning twice.
        "year": {"small": 150, "medium": 240}.get(size.name, 300),
        "blast": sum(
            ONE_WORKER_SECONDS + min(args.blast_seconds, longest or args.blast_seconds) + 2 * 15
            for _, _, longest in SETUPS.values()
        ),
        "import": IMPORT_SECONDS,
    }

    def reserve_after(phase: str) -> float:
        """Seconds to keep for the fixed-length measurements after `phase` (memory takes what is left)."""
        later = PHASES[PHASES.index(phase) + 1 :]
        return TEARDOWN_SECONDS + sum(needs.get(name, 0) for name in later if name in args.only)

    def measure(phase: str, function) -> None:
        if phase not in args.only:
            return
        log(f"{phase} ({budget.remaining():.0f} s of budget left)")
        try:
            function()
        except Exception as exc:
            traceback.print_exc()
            results.errors[phase] = f"{type(exc).__name__}: {exc}"

    def planning():
        reserve = reserve_after("planning")
        results.planning = run_planning(conn, url=url, size=size, now=now, budget=budget, reserve=reserve)
        # A day of the 24-hour job's runs every 10 minutes (issue 31): what incremental planning costs a day.
        first = next((row for row in results.planning if row.job == DAY_JOB and row.finished), None)
        if first is not None:
            deadline = time.monotonic() + max(30.0, budget.remaining(reserve=reserve))
            results.day = simulate_day(conn, job_name=DAY_JOB, size=size, now=now, first=first, deadline=deadline)

    def ledger():
        results.ledger = run_ledger(conn, size=size, now=now)

    def year():
        deadline = time.monotonic() + max(30.0, budget.remaining(reserve=reserve_after("year")))
        results.year = run_year(conn, size=size, now=now, deadline=deadline)

    def memory():
        reserve = reserve_after("memory")
        results.memory = run_memory(
            conn, url=url, size=size, now=now, planning=results.planning, budget=budget, reserve=reserve
        )

    def web():
        results.web = run_web(conn, size=size, now=now)

    def dispatch():
        latency = args.latency_ms / 1000
        results.dispatch = run_dispatch(
            conn, url=url, size=size, now=now, latency=latency, per_worker=args.messages_per_worker
        )

    def blast():
        results.blast = run_blast(
            conn,
            url=url,
            size=size,
            now=now,
            latency=args.latency_ms / 1000,
            count=args.blast,
            seconds=args.blast_seconds,
        )

    def lead_import():
        deadline = time.monotonic() + max(30.0, min(IMPORT_SECONDS, budget.remaining(reserve=TEARDOWN_SECONDS)))
        results.lead_import = run_import(conn, rows=size.import_rows, deadline=deadline)

    steps = (planning, ledger, year, memory, web, dispatch, blast, lead_import)
    for phase, function in zip(PHASES, steps, strict=True):
        measure(phase, function)
    conn.close()
    results.machine["load_at_end"] = round(load_average(), 2)
    results.seconds = budget.elapsed + TEARDOWN_SECONDS / 3
    results.projected_seconds = results.seconds + _cut_short(results)
    log("done")
    return results


def _cut_short(results: Results) -> float:
    """Seconds the measurements stopped at their budget would still have needed."""
    missing = sum(row.app_seconds * (1 - row.done) for row in results.planning if not row.finished)
    expected = {row.job: row.app_seconds for row in results.planning}
    for row in results.memory:
        if row.note.startswith("not run"):
            missing += row.seconds  # its estimate
        elif not row.finished and row.command.startswith("run_reminders "):
            missing += max(0.0, expected.get(_job_named(row.command), 0.0) - row.seconds)
    return missing


def _job_named(command: str) -> str:
    try:
        return get_job(command.split()[1]).name
    except LookupError:
        return ""
