"""
Scale-out: 1, 2 and 4 qclusters, each in a process group of its own as separate machines would run
them, on one Redis broker and one PostgreSQL, send one backlog (email and WhatsApp) to a fake
provider answering in 50 ms, with a WhatsApp rate limit shared through Redis.

`python -m bench.scaleout [--messages 20000] [--whatsapp 2000] [--latency 0.05] [--limit 100]`
(about 10 minutes; `make bench` does not run it)

For each cluster count it prints the throughput (sent / seconds from the first hand-over to the
last answer) and its ratio to one cluster, the WhatsApp provider's observed peak in any second
against the limit, duplicates (an address the provider saw twice; every address is unique), and
schedules run more than once in a tick. Then it SIGKILLs one of two clusters mid-run: nothing lost
(every row settled: sent, or `unknown` for the requests the killed worker had in flight, which
reconciliation settles), nothing twice, and how long after the kill its claims went back.

The database (`--database-url`, its name must contain "scaleout") is created and dropped; Redis
(`--redis-url`, default db 15) is flushed.
"""

import argparse
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from .database import _quiet_hours_away_from_now, create_database, drop_database
from .machine import load_average

ROOT = Path(__file__).resolve().parent.parent
DATABASE_URL = "postgres://postgres@127.0.0.1:5432/coursehub_scaleout"
LOG = ROOT / "var" / "scaleout-qclusters.log"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scaleout", description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20000, help="the backlog (default 20000)")
    parser.add_argument("--whatsapp", type=int, default=2000, help="of which WhatsApp (default 2000)")
    parser.add_argument("--latency", type=float, default=0.05, help="the provider's answer time, s (default 0.05)")
    parser.add_argument("--limit", type=float, default=100, help="WhatsApp messages a second, all workers (100)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes per qcluster (default 2)")
    parser.add_argument("--clusters", default="1,2,4", help="cluster counts to measure (default 1,2,4)")
    parser.add_argument(
        "--whatsapp-concurrency",
        type=int,
        default=1,
        help="WhatsApp requests in flight per worker in the 1/2/4 rounds (default 1: the provider's 50 ms is "
        "the bottleneck); the SIGKILL round uses 4, which presses on the limit",
    )
    parser.add_argument("--only-kill", action="store_true", help="run the SIGKILL round alone")
    parser.add_argument("--no-kill", action="store_true", help="skip the SIGKILL run")
    parser.add_argument("--timeout", type=float, default=900, help="seconds a run may take (default 900)")
    parser.add_argument("--redis-url", default=os.environ.get("SCALEOUT_REDIS_URL", "redis://127.0.0.1:6379/15"))
    parser.add_argument("--database-url", default=os.environ.get("SCALEOUT_DATABASE_URL", DATABASE_URL))
    args = parser.parse_args(argv)
    if "scaleout" not in urlsplit(args.database_url).path:
        parser.error("the database is created and dropped: its name must contain 'scaleout'")
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "DJANGO_ENV": "test",
        "DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("CACHE_URL", None)
    os.environ.update(env)
    create_database(args.database_url)
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        import django

        django.setup()
        _run(args, env)
    finally:
        drop_database(args.database_url)


def _run(args, env: dict) -> None:
    from django.db import connection

    from tests.fakes import FakeProvider, postmark_ok, twilio_ok

    from .database import connect
    from .machine import describe

    with connect(args.database_url) as conn:
        machine = describe(conn)
    print(
        f"machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB, PostgreSQL "
        f"{machine['postgresql']}, Python {machine['python']}, load {machine['load_at_start']}"
    )
    with (
        FakeProvider(default=postmark_ok, latency=args.latency) as postmark,
        FakeProvider(default=twilio_ok, latency=args.latency) as twilio,
    ):
        for provider in (postmark, twilio):
            provider.server.RequestHandlerClass.protocol_version = "HTTP/1.1"
            provider.server.RequestHandlerClass.disable_nagle_algorithm = True
        cluster_env = {
            **env,
            "Q_WORKERS": str(args.workers),
            "Q_POLL": "0.2",
            "EMAIL_BACKEND": "anymail.backends.postmark.EmailBackend",
            "POSTMARK_SERVER_TOKEN": "bench",
            "POSTMARK_API_URL": postmark.url + "/",
            "WHATSAPP_BACKEND": "notifications.channels.whatsapp.twilio.WhatsAppBackend",
            "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
            "TWILIO_AUTH_TOKEN": "bench",
            "TWILIO_WHATSAPP_FROM": "+14155238886",
            "TWILIO_API_BASE_URL": twilio.url,
            "TWILIO_CONTENT_SIDS": "payment_reminder=HX" + "b" * 32,
            "NOTIFICATIONS_RATE_LIMITS": f"whatsapp={args.limit:g}",
            "NOTIFICATIONS_DISPATCH_CONCURRENCY": f"email=4,whatsapp={args.whatsapp_concurrency}",
            "WHATSAPP_DAILY_UNIQUE_RECIPIENTS": "1000000",
            # The attention budget as the other benches set it: quiet hours nobody is in now, a cap no
            # one reaches (at night in India the backlog would otherwise wait for the morning).
            "NOTIFICATIONS_QUIET_HOURS": _quiet_hours_away_from_now(),
            "NOTIFICATIONS_DAILY_CAP": "1000",
        }
        LOG.parent.mkdir(exist_ok=True)
        LOG.write_text("")
        rows = []
        for count in [] if args.only_kill else [int(n) for n in args.clusters.split(",")]:
            rows.append(_round(args, cluster_env, providers=(postmark, twilio), clusters=count))
            connection.close()
        base = rows[0]["per_second"] if rows else 1
        print(
            f"\nbacklog {args.messages} ({args.messages - args.whatsapp} email, {args.whatsapp} WhatsApp), "
            f"provider {1000 * args.latency:g} ms, WhatsApp limit {args.limit:g}/s, {args.workers} workers a cluster"
        )
        print("clusters  sent   seconds  msg/s   ratio  WhatsApp peak/s  duplicates  schedules twice in a tick")
        for row in rows:
            print(
                f"{row['clusters']:>8}  {row['sent']:>5}  {row['seconds']:>7.1f}  {row['per_second']:>6.1f}  "
                f"{row['per_second'] / base:>4.2f}x  {row['peak']:>6} (limit {args.limit:g})  "
                f"{row['duplicates']:>10}  {row['twice']}"
            )
        if not args.no_kill:
            pressing = {**cluster_env, "NOTIFICATIONS_DISPATCH_CONCURRENCY": "email=4,whatsapp=4"}
            killed = _round(args, pressing, providers=(postmark, twilio), clusters=2, kill_after=20.0)
            print(
                f"\nSIGKILL of one of 2 clusters {killed['killed_after']:.0f} s after the first send (WhatsApp 4 in "
                f"flight a worker; peak {killed['peak']}/s, limit {args.limit:g}): {killed['sent']} sent, "
                f"{killed['unknown']} unknown (in flight in the killed worker; reconciliation settles them), "
                f"{killed['left']} left unsettled, {killed['duplicates']} duplicates; its claims went back "
                f"{killed['taken_over']} after the kill; msg/s {killed['per_second']:.1f}"
            )


def _reset(args, *, providers) -> None:
    """An empty ledger, job log, worker list, django-q2 tables and Redis, then the backlog."""
    import redis
    from django.db import connection
    from django_q.models import OrmQ, Task

    from automation.models import JobExecutionLog, WorkerHeartbeat
    from notifications.services.planning import PlannedMessage, Recipient, plan_messages

    redis.Redis.from_url(args.redis_url).flushdb()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE notifications_delivery, notifications_deliveryevent CASCADE")
    for model in (JobExecutionLog, WorkerHeartbeat, Task, OrmQ):
        model.objects.all().delete()
    for provider in providers:
        provider.requests.clear()
        provider.emails.clear()
        provider.messages.clear()
    stamp = int(time.time())

    def messages():
        every = max(1, args.messages // max(1, args.whatsapp))  # WhatsApp spread through the backlog
        for i in range(args.messages):
            whatsapp = args.whatsapp > 0 and i % every == 0 and i // every < args.whatsapp
            person = (
                Recipient(user_id=None, phone=f"+91987{i:07d}", whatsapp_opt_in=True, name=f"P {i}")
                if whatsapp
                else Recipient(user_id=None, email=f"p{i}@scaleout.example.com", name=f"P {i}")
            )
            yield PlannedMessage(
                recipient=person,
                event_key=f"scaleout-{stamp}-{i}",
                context={"amount": "₹5,000", "payment_url": "https://pay.example.com/x"},
                subject_type="bench.event",
                subject_id=i,
            )

    plan_messages(kind="payment_reminder", messages=messages())


def _start(env: dict) -> subprocess.Popen:
    with open(LOG, "a") as log:
        return subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a machine of its own: its process group goes down together
        )


def _stop(clusters: list[subprocess.Popen]) -> None:
    for cluster in clusters:
        if cluster.poll() is None:
            os.killpg(cluster.pid, signal.SIGTERM)
    for cluster in clusters:
        try:
            cluster.wait(timeout=20)  # idle by now: a cluster deaf to SIGTERM (README) is killed
        except subprocess.TimeoutExpired:
            os.killpg(cluster.pid, signal.SIGKILL)
            cluster.wait()


def _round(args, env: dict, *, providers, clusters: int, kill_after: float | None = None) -> dict:
    from django.db.models import Max, Min
    from django.utils import timezone
    from django_q.models import Schedule

    from automation.models import JobExecutionLog
    from automation.schedules import sync_schedules
    from notifications.models import Delivery

    _reset(args, providers=providers)
    sync_schedules()
    # No delivery run before every cluster is up (a slow start would otherwise see the schedule's own
    # tick and then the forced one below in the same minute).
    Schedule.objects.filter(name="deliver_messages").update(next_run=timezone.now() + dt.timedelta(days=1))
    due = Delivery.objects.filter(status="pending").count()
    print(f"\n{clusters} cluster(s): {due} due; starting (load {load_average():.1f})", flush=True)
    started = [_start(env) for _ in range(clusters)]
    # Every cluster up before the first tick, as machines already running when a backlog arrives.
    deadline = time.monotonic() + 120
    while _live_workers() < clusters * args.workers and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(3)  # their stats reach the broker within a guard cycle
    Schedule.objects.filter(name="deliver_messages").update(next_run=timezone.now())
    began = time.monotonic()
    killed_at = None
    sending_since = None
    taken_over = "n/a"
    try:
        deadline = began + args.timeout
        while time.monotonic() < deadline:
            if sending_since is None and Delivery.objects.exclude(status="pending").exists():
                sending_since = time.monotonic()
            if (
                kill_after is not None
                and killed_at is None
                and sending_since
                and (time.monotonic() - sending_since >= kill_after)
            ):
                victim = _sending_cluster(started)
                os.killpg(victim.pid, signal.SIGKILL)
                victim.wait()
                killed_at = timezone.now()
                held = Delivery.objects.filter(status="sending", claimed_at__lt=killed_at).count()
                print(
                    f"  SIGKILL of a sending cluster {time.monotonic() - sending_since:.0f} s after the first send "
                    f"({held} rows in `sending` across the clusters at that moment)",
                    flush=True,
                )
            left = Delivery.objects.filter(status__in=["pending", "sending"]).count()
            if killed_at and taken_over == "n/a":
                stuck = Delivery.objects.filter(status="sending", claimed_at__lt=killed_at).count()
                if not stuck:
                    taken_over = f"{(timezone.now() - killed_at).total_seconds():.0f} s"
            if not left:
                break
            time.sleep(1)
        while JobExecutionLog.objects.filter(status="running").exists() and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        _stop(started)
    sent = Delivery.objects.filter(status="sent")
    span = sent.aggregate(first=Min("handed_over_at"), last=Max("sent_at"))
    seconds = (span["last"] - span["first"]).total_seconds() if span["first"] else 0.0
    count = sent.count()
    postmark, twilio = providers
    addresses = Counter(twilio_form["To"] for twilio_form in (r.form() for r in twilio.requests))
    addresses.update(message["To"] for request in postmark.requests for message in _postmark_messages(request))
    twice = _schedules_twice_in_a_tick()
    row = {
        "clusters": clusters,
        "sent": count,
        "seconds": seconds,
        "per_second": count / seconds if seconds else 0.0,
        "peak": _peak_per_second([r.arrived for r in twilio.requests]),
        "duplicates": sum(n - 1 for n in addresses.values() if n > 1),
        "twice": twice or "none",
        "unknown": Delivery.objects.filter(status="unknown").count(),
        "left": Delivery.objects.filter(status__in=["pending", "sending"]).count(),
        "killed_after": kill_after or 0,
        "taken_over": taken_over,
    }
    shares = JobExecutionLog.objects.filter(job_name="deliver_messages", trigger="fan-out").count()
    if span["first"]:  # where each sender spent the round: its runs, from the first hand-over
        runs = JobExecutionLog.objects.filter(job_name="deliver_messages", records_processed__gt=0)
        runs = runs.order_by("started_at")
        print(
            "  runs (start s, seconds, sent): "
            + "; ".join(
                f"{run.trigger} {(run.started_at - span['first']).total_seconds():.0f}, "
                f"{run.duration_seconds or 0:.0f}, {run.records_processed}"
                for run in runs
            ),
            flush=True,
        )
    print(
        f"  {count} sent in {seconds:.1f} s ({row['per_second']:.1f}/s), {shares} fan-out shares, WhatsApp peak "
        f"{row['peak']}/s, {row['duplicates']} duplicates, {row['unknown']} unknown, {row['left']} left",
        flush=True,
    )
    return row


def _sending_cluster(started: list[subprocess.Popen]) -> subprocess.Popen:
    """A cluster one of whose workers runs a delivery share now (its process group holds the worker)."""
    from django.db.models import Q

    from automation.models import WorkerHeartbeat

    groups = {cluster.pid: cluster for cluster in started}
    delivering = Q(current_task__contains="deliver") | Q(current_task__startswith="run_dispatch_share")
    for pid in WorkerHeartbeat.objects.filter(delivering).values_list("pid", flat=True):
        try:
            cluster = groups.get(os.getpgid(pid))
        except ProcessLookupError:
            continue
        if cluster is not None:
            return cluster
    return started[0]


def _live_workers() -> int:
    from django_q.status import Stat

    return sum(len(stat.workers) for stat in Stat.get_all())


def _postmark_messages(request) -> list[dict]:
    body = request.json()
    return body if isinstance(body, list) else [body]


def _peak_per_second(moments: list[dt.datetime]) -> int:
    """The most requests that arrived within any one second."""
    times = sorted(moment.timestamp() for moment in moments)
    peak, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 1.0:
            start += 1
        peak = max(peak, end - start + 1)
    return peak


def _schedules_twice_in_a_tick() -> str:
    """Schedules that ran more than once in one interval of theirs (whichever cluster took them)."""
    from automation.jobs import get_job
    from automation.models import JobExecutionLog

    ticks = Counter()
    for name, started in JobExecutionLog.objects.filter(trigger="schedule").values_list("job_name", "started_at"):
        interval = get_job(name).schedule.interval.total_seconds()
        ticks[(name, int(started.timestamp() // interval))] += 1
    twice = sorted({name for (name, _), n in ticks.items() if n > 1})
    return ", ".join(twice)


if __name__ == "__main__":
    main()
