"""
Dispatch: deliveries per second through anymail's Postmark backend to a local fake provider
(emails go out several to a request, through Postmark's batch API, as the dispatcher sends them).

Two ways of running workers, each with 1, 2 and 4 processes:
- `python -m bench.dispatch_worker`: processes calling dispatch_due_deliveries(), started together
  after their start-up; throughput and CPU time cover the sending only;
- `manage.py run_reminders deliver`: processes as cron or an operator starts them; throughput and
  CPU time cover the whole process, start-up included.
"""

import datetime as dt
import json
import sys
import time
from dataclasses import dataclass

import psycopg

from tests.fakes import FakeProvider, postmark_ok

from . import floor_before as floor
from . import processes
from .database import app_env
from .planning import empty_ledger
from .sizes import Size

WORKER_COUNTS = (1, 2, 4)


@dataclass
class DispatchRow:
    how: str
    workers: int
    messages: int
    sent: int
    seconds: float
    cpu_seconds: float  # the workers' CPU time: while sending (bench workers) or whole processes (run_reminders)
    process_cpu_seconds: float  # whole processes, start-up included
    peak_rss_mb: float
    note: str = ""

    @property
    def per_second(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_message(self) -> float:
        return 1000 * self.cpu_seconds / self.sent if self.sent else float("nan")


def queue_emails(conn: psycopg.Connection, *, size: Size, now: dt.datetime, count: int) -> None:
    """Empty the ledger and queue `count` "Starts Tomorrow" emails, as the 24-hour job plans them."""
    empty_ledger(conn, size=size, now=now)
    with conn.transaction():
        plan = floor.plan_session_24h(conn, now)
        # The latest sessions' reminders: the first ones, for a session just over an hour away, would
        # expire (an hour before it) while the benchmark runs and be skipped, not sent.
        latest = f"SELECT * FROM ({plan.sql}) q ORDER BY q.expires_at DESC LIMIT {int(count)}"
        statement = floor.INSERT_DELIVERIES.replace("__PLAN__", latest)
        params = {**plan.insert_params, "now": now, "whatsapp": False}
        conn.execute(statement.replace("__BUSINESS__", ""), params)
        floor.move_to_app_ledger(conn)


def _count_sent(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT count(*) FROM notifications_delivery WHERE status = 'sent'").fetchone()[0]


def run_dispatch(
    conn: psycopg.Connection, *, url: str, size: Size, now: dt.datetime, latency: float, per_worker: int
) -> list[DispatchRow]:
    """Measure dispatch with 1, 2 and 4 workers of each kind against a fake Postmark answering after `latency`."""
    rows = []
    with FakeProvider(default=postmark_ok, latency=latency) as provider:
        # Keep connections open as Postmark's API does (the fake answers HTTP/1.0, one connection a message),
        # without Nagle's algorithm, which would hold the body of each answer for a delayed ACK (40 ms).
        provider.server.RequestHandlerClass.protocol_version = "HTTP/1.1"
        provider.server.RequestHandlerClass.disable_nagle_algorithm = True
        env = app_env(
            url,
            EMAIL_BACKEND="anymail.backends.postmark.EmailBackend",
            POSTMARK_SERVER_TOKEN="bench",
            POSTMARK_API_URL=provider.url + "/",
            LOG_LEVEL="WARNING",
        )
        for workers in WORKER_COUNTS:
            queue_emails(conn, size=size, now=now, count=per_worker * workers)
            rows.append(_bench_workers(conn, env=env, workers=workers, messages=per_worker * workers))
        for workers in WORKER_COUNTS:
            queue_emails(conn, size=size, now=now, count=per_worker * workers)
            rows.append(_run_reminders(conn, env=env, workers=workers, messages=per_worker * workers))
    return rows


def _bench_workers(conn, *, env: dict, workers: int, messages: int) -> DispatchRow:
    started = [
        processes.start([sys.executable, "-m", "bench.dispatch_worker"], env=env, talk=True) for _ in range(workers)
    ]
    for process in started:
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError("A dispatch worker did not start: " + processes.finish(process).stderr[-2000:])
    for process in started:
        process.stdin.write("go\n")
        process.stdin.flush()
    results = [processes.finish(process) for process in started]
    reports = [json.loads(result.stdout.strip().splitlines()[-1]) for result in results if result.ok]
    if len(reports) != workers:
        failed = next(result for result in results if not result.ok)
        raise RuntimeError(f"A dispatch worker failed: {failed.stderr[-2000:]}")
    seconds = max(report["finished"] for report in reports) - min(report["started"] for report in reports)
    return DispatchRow(
        how="dispatch_due_deliveries()",
        workers=workers,
        messages=messages,
        sent=_count_sent(conn),
        seconds=seconds,
        cpu_seconds=sum(report["cpu_seconds"] for report in reports),
        process_cpu_seconds=sum(result.cpu_seconds for result in results),
        peak_rss_mb=max(result.peak_rss_mb for result in results),
    )


def _run_reminders(conn, *, env: dict, workers: int, messages: int) -> DispatchRow:
    command = [sys.executable, "manage.py", "run_reminders", "deliver"]
    clock = time.monotonic()
    results = [processes.finish(process) for process in [processes.start(command, env=env) for _ in range(workers)]]
    seconds = time.monotonic() - clock
    # Until the delivery job stopped taking a job lock, all workers but one skipped their run.
    skipped = sum(
        any(line.split()[:2] == ["deliver_messages", "skipped"] for line in result.stdout.splitlines())
        for result in results
    )
    cpu = sum(result.cpu_seconds for result in results)
    return DispatchRow(
        how="manage.py run_reminders deliver",
        workers=workers,
        messages=messages,
        sent=_count_sent(conn),
        seconds=seconds,
        cpu_seconds=cpu,
        process_cpu_seconds=cpu,
        peak_rss_mb=max(result.peak_rss_mb for result in results),
        note=f"{skipped} of {workers} skipped: job lock held" if skipped else "",
    )
