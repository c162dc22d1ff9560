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

from . import processes
from .database import app_env
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
    from . import floor_before as floor  # here: `python -m bench.dispatch` sets Django up first
    from .planning import empty_ledger

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


# --- Scaling and queue length (issue 31, item 5): `python -m bench.dispatch` -------------------------

SCALING_TARGET = 1.8  # 2 workers / 1 worker (manage.py run_reminders deliver)
QUEUE_TARGET = 0.9  # one worker's rate with a 100k queue / with a 1k queue


# The queue's index before issue 31 (claims sorted every tied row) and since (the claim's own order).
INDEX_BEFORE = (
    "DROP INDEX IF EXISTS delivery_due_in_order; CREATE INDEX IF NOT EXISTS delivery_due_by_priority"
    " ON notifications_delivery (priority, next_attempt_at) WHERE status = 'pending'"
)
INDEX_AFTER = (
    "DROP INDEX IF EXISTS delivery_due_by_priority; CREATE INDEX IF NOT EXISTS delivery_due_in_order"
    " ON notifications_delivery (priority, next_attempt_at, id) WHERE status = 'pending'"
)
INDEX_LABELS = {"before": "queue index (priority, next_attempt_at)", "after": "(priority, next_attempt_at, id)"}


def _queue(conn: psycopg.Connection, count: int) -> None:
    """Make the first `count` rows of the planned ledger due and pending (the others cancelled), as
    if just planned: the table stays the same size, only the queue's length changes."""
    conn.execute("TRUNCATE notifications_deliveryevent")
    conn.execute(
        "UPDATE notifications_delivery SET status = CASE WHEN rn <= %(count)s THEN 'pending' ELSE 'cancelled' END,"
        " next_attempt_at = now() - interval '1 minute', attempts = 0, claim_token = NULL, claimed_at = NULL,"
        " handed_over_at = NULL, sent_at = NULL, provider_message_id = '', last_error = ''"
        " FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM notifications_delivery) q"
        " WHERE q.id = notifications_delivery.id",
        {"count": count},
    )
    conn.execute("VACUUM ANALYZE notifications_delivery")


def _one_worker_rate(conn, *, env: dict, seconds: float) -> float:
    """Messages a second of one bench worker sending for at most `seconds` (after its start-up)."""
    process = processes.start([sys.executable, "-m", "bench.dispatch_worker", str(seconds)], env=env, talk=True)
    if process.stdout.readline().strip() != "ready":
        raise RuntimeError("A dispatch worker did not start: " + processes.finish(process).stderr[-2000:])
    process.stdin.write("go\n")
    process.stdin.flush()
    result = processes.finish(process)
    if not result.ok:
        raise RuntimeError(f"A dispatch worker failed: {result.stderr[-2000:]}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return report["sent"] / (report["finished"] - report["started"])


def _claim_ms(conn, count: int, *, times: int = 7) -> float:
    """Median milliseconds of one claim of a batch (500) from a queue of `count`, given back after."""
    from django.utils import timezone

    from notifications.services.dispatch.claim import claim_due_deliveries, give_back

    _queue(conn, count)
    took = []
    for _ in range(times):
        started = time.perf_counter()
        rows = claim_due_deliveries(now=timezone.now(), limit=500)
        took.append(1000 * (time.perf_counter() - started))
        give_back(deliveries=rows, now=timezone.now())
    return _median(took)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def main(argv=None) -> None:
    import argparse
    import os

    from . import database

    parser = argparse.ArgumentParser(
        prog="python -m bench.dispatch",
        description="Dispatch scaling (2 workers / 1) and one worker's rate as the queue grows (1k -> 100k), "
        "measured in turns in one run against a fake Postmark.",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/coursehub_bench_dispatch"),
    )
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--per-worker", type=int, default=3000, help="emails queued per run_reminders worker")
    parser.add_argument("--small", type=int, default=1000, help="the short queue (default 1000)")
    parser.add_argument("--large", type=int, default=100_000, help="the long queue (default 100000)")
    parser.add_argument("--seconds", type=float, default=8.0, help="how long one worker sends from the long queue")
    parser.add_argument("--pairs", type=int, default=3, help="turns of each comparison (default 3)")
    parser.add_argument("--claims-only", action="store_true", help="time the claims alone, no sending")
    parser.add_argument(
        "--compare-index",
        action="store_true",
        help="measure each turn also with the queue's index as it was before issue 31 (no id: claims sort)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_ENV", "test")  # as `make bench` runs it: no production secrets needed
    url = database.bench_database_url(args.database_url)
    database.create_database(url)
    try:
        database.migrate(url)
        os.environ.update(database.app_env(url))
        import django

        django.setup()
        from notifications.services.planning import PlannedMessage, Recipient, plan_messages

        plan_messages(
            kind="payment_reminder",
            messages=(
                PlannedMessage(
                    recipient=Recipient(user_id=None, email=f"p{i}@dispatch.example.com", name=f"P {i}"),
                    event_key=f"dispatch-{i}",
                    context={"amount": "₹5,000", "payment_url": "https://pay.example.com/x"},
                    subject_type="bench.event",
                    subject_id=i,
                )
                for i in range(max(args.large, 2 * args.per_worker))
            ),
        )
        with database.connect(url) as conn, FakeProvider(default=postmark_ok, latency=args.latency_ms / 1000) as fake:
            conn.autocommit = True
            fake.server.RequestHandlerClass.protocol_version = "HTTP/1.1"
            fake.server.RequestHandlerClass.disable_nagle_algorithm = True
            env = database.app_env(
                url,
                EMAIL_BACKEND="anymail.backends.postmark.EmailBackend",
                POSTMARK_SERVER_TOKEN="bench",
                POSTMARK_API_URL=fake.url + "/",
                LOG_LEVEL="WARNING",
            )
            indexes = {"before": INDEX_BEFORE, "after": INDEX_AFTER} if args.compare_index else {"now": None}
            scaling = {name: [] for name in indexes}
            queues = {name: [] for name in indexes}
            claims = {name: [] for name in indexes}
            for _turn in range(args.pairs):  # a claim's own time, by queue length: where a worker waits
                for name, index in indexes.items():
                    if index:
                        conn.execute(index)
                    claims[name].append((_claim_ms(conn, args.small), _claim_ms(conn, args.large)))
            for name in indexes:
                small, large = (_median([pair[i] for pair in claims[name]]) for i in (0, 1))
                label = "" if name == "now" else f"[{name}: {INDEX_LABELS[name]}] "
                print(
                    f"{label}one claim of 500 (median): queue {args.small:,} {small:.1f} ms, queue {args.large:,} "
                    f"{large:.1f} ms ({large / small:.1f}x)",
                    flush=True,
                )
            for turn in range(0 if args.claims_only else args.pairs):
                for name, index in indexes.items():
                    if index:
                        conn.execute(index)
                    rates = {}
                    for workers in (1, 2):
                        _queue(conn, args.per_worker * workers)
                        row = _run_reminders(conn, env=env, workers=workers, messages=args.per_worker * workers)
                        rates[workers] = row.per_second
                    scaling[name].append((rates[1], rates[2]))
                    _queue(conn, args.small)
                    small = _one_worker_rate(conn, env=env, seconds=args.seconds)
                    _queue(conn, args.large)
                    large = _one_worker_rate(conn, env=env, seconds=args.seconds)
                    queues[name].append((small, large))
                    print(
                        f"turn {turn + 1} ({name}): run_reminders deliver 1 worker {rates[1]:.0f} msg/s, 2 workers "
                        f"{rates[2]:.0f} msg/s; one worker, queue {args.small:,} {small:.0f} msg/s, queue "
                        f"{args.large:,} {large:.0f} msg/s",
                        flush=True,
                    )
        if args.claims_only:
            return
        print(f"\nprovider {args.latency_ms:g} ms; medians of {args.pairs} turns, each comparison measured in turn")
        for name in indexes:
            ratio = _median([two / one for one, two in scaling[name]])
            flat = _median([large / small for small, large in queues[name]])
            one = _median([one for one, _ in scaling[name]])
            two = _median([two for _, two in scaling[name]])
            small = _median([small for small, _ in queues[name]])
            large = _median([large for _, large in queues[name]])
            label = "" if name == "now" else f"[{name}: {INDEX_LABELS[name]}] "
            print(
                f"{label}2 workers / 1 worker (manage.py run_reminders deliver, {args.per_worker:,} emails a worker): "
                f"{ratio:.2f}x ({one:.0f} -> {two:.0f} msg/s)   target >= {SCALING_TARGET}x   "
                f"{'holds' if ratio >= SCALING_TARGET else 'NO'}"
            )
            print(
                f"{label}one worker, {args.large:,}-queue rate / {args.small:,}-queue rate: {flat:.2f}x "
                f"({small:.0f} -> {large:.0f} msg/s)   target >= {QUEUE_TARGET}x (flat)   "
                f"{'holds' if flat >= QUEUE_TARGET else 'NO'}"
            )
    finally:
        database.drop_database(url)


if __name__ == "__main__":
    main()
