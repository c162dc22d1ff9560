"""
`python -m bench.storm [--seconds 120] [--messages 2000] [--workers 3] [--cron 0] [--qcluster]`: a
fault storm, bounded in time.

Plans emails and WhatsApp messages in a database of its own (coursehub_storm, created, migrated
and dropped): a third of the numbers get two or three WhatsApp messages within the same minutes.
It starts a fake Postmark + Twilio on 127.0.0.1 that accepts-then-drops, hangs, resets and answers
429 (with Retry-After) and 5xx (and 404 to everything for a tenth of the storm: a wrong URL), and
answers Postmark's message search and Twilio's message list. It runs `run_reminders deliver`
loops, a `run_reminders reconcile` loop, `run_reminders all` loops (cron) and, with --qcluster, a
real `manage.py qcluster` on Redis under a small supervisor (the README's: restart it when
`check_health --scheduler` fails), while it kills a dispatch worker with SIGKILL every few seconds,
kills the qcluster's worker children, and terminates database connections. Mid-run it suppresses
some addresses and lets some messages' moment pass; and, for students whose session reminders and
payment reminders the product plans itself (bench/storm_domain.py), at random moments it moves and
cancels sessions, marks payments paid, and records opt-outs (the unsubscribe link, a WhatsApp STOP)
through the product's own services. Then the faults stop, reconciliation and
dispatch settle everything, and it prints the figures: duplicates, recorded sent without an
acceptance (or with another row's message), `unknown` left, rows that waited on a dead lease for
over 60 s, messages sent after their moment or their suppression, after their session moved or
was cancelled, after their payment was paid or after their address opted out, failed for good, job runs not
final, and whether the qcluster resumed work after its children were killed.
Traffic goes only to 127.0.0.1. Not a test: run it by hand (it takes `--seconds` plus the settling).
"""

import argparse
import datetime as dt
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
DATABASE_URL = "postgres://postgres@127.0.0.1:5432/coursehub_storm"


def SUPPRESSED(messages: int) -> range:
    """The recipients who opt out mid-storm: the last tenth, still waiting when it happens."""
    return range(messages - messages // 10, messages)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.storm", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120, help="how long the storm lasts (default 120)")
    parser.add_argument("--messages", type=int, default=2000, help="recipients; each gets an email and a WhatsApp")
    parser.add_argument(
        "--students", type=int, default=200, help="students with sessions and a payment, changed mid-run (default 200)"
    )
    parser.add_argument("--workers", type=int, default=3, help="dispatch loops at once (default 3)")
    parser.add_argument("--cron", type=int, default=0, help="`run_reminders all` loops at once (default 0)")
    parser.add_argument(
        "--qcluster", action="store_true", help="run a real qcluster on Redis (REDIS_URL) and kill its children"
    )
    parser.add_argument("--redis-url", default=os.environ.get("STORM_REDIS_URL", "redis://127.0.0.1:6379/13"))
    parser.add_argument("--database-url", default=os.environ.get("STORM_DATABASE_URL", DATABASE_URL))
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args(argv)
    if "storm" not in urlsplit(args.database_url).path:
        parser.error("the database is created and dropped: its name must contain 'storm'")

    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "DJANGO_ENV": "test",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    os.environ.update(env)
    _create_database(args.database_url)
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        figures = _storm(args, env)
    finally:
        if not args.keep_database:
            _drop_database(args.database_url)
    width = max(map(len, figures))
    for name, value in figures.items():
        print(f"{name:<{width}}  {value}")


def _storm(args, env: dict) -> dict:
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from automation.models import JobExecutionLog
    from automation.services import abandon_stale_runs
    from notifications.models import Delivery, Suppression
    from tests.fakes import FakeProvider

    from .storm_domain import DomainChanges

    chaos = Chaos(seconds=args.seconds)
    with FakeProvider(default=chaos.answer) as provider:
        worker_env = _worker_env(env, provider)
        start = timezone.now()
        total = _plan(args.messages)
        # A tenth of the messages lose their moment a third of the way in.
        moment = start + dt.timedelta(seconds=args.seconds / 3)
        Delivery.objects.filter(event__subject_id__lt=args.messages // 10).update(expires_at=moment)
        domain = DomainChanges(students=args.students)
        domain.seed(now=start)
        total = Delivery.objects.count()

        stop = threading.Event()
        procs: dict[str, subprocess.Popen] = {}
        kills = Counter()
        loops = [(f"deliver{n}", ["run_reminders", "deliver"]) for n in range(args.workers)]
        loops += [("reconcile", ["run_reminders", "reconcile"])]
        loops += [(f"cron{n}", ["run_reminders", "all"]) for n in range(args.cron)]
        threads = [
            threading.Thread(target=_loop, args=(name, command, worker_env, procs, stop)) for name, command in loops
        ]
        cluster = Supervised(worker_env, args.redis_url) if args.qcluster else None
        if cluster:
            threads.append(threading.Thread(target=cluster.supervise, args=(stop,)))
        for thread in threads:
            thread.start()

        suppressed_at = None
        dead_lease = DeadLeaseWatch()
        chaos.started = time.monotonic()
        deadline = chaos.started + args.seconds
        while time.monotonic() < deadline:
            pause = random.uniform(2, 5)
            dead_lease.sample(pause)
            domain.make_due(share=(time.monotonic() - chaos.started) / args.seconds)
            victim = procs.get(f"deliver{random.randrange(args.workers)}")
            if victim and victim.poll() is None:
                victim.send_signal(signal.SIGKILL)
                kills["dispatch"] += 1
            if random.random() < 0.5:
                kills["database connections"] += _terminate_connections(connection, count=1)
            if (
                cluster
                and cluster.children_killed_at is None
                and time.monotonic() > chaos.started + min(30, args.seconds / 5)
            ):
                kills["qcluster children"] += cluster.kill_children()
            if suppressed_at is None and time.monotonic() > deadline - args.seconds / 2:
                # People opt out mid-storm: nothing more may reach them from this moment.
                suppressed_at = timezone.now()
                addresses = [f"storm{i}@example.com" for i in SUPPRESSED(args.messages)]
                Suppression.objects.bulk_create(
                    [Suppression(channel="email", address=a, reason="unsubscribed") for a in addresses],
                    ignore_conflicts=True,
                )
        stop.set()
        for proc in list(procs.values()):
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills["at the end"] += 1
        for thread in threads:
            thread.join()
        storm_end = timezone.now()
        unknown_after_storm = Delivery.objects.filter(status="unknown").count()
        waiting_on_dead_leases = dead_lease.sample(0)

        # The storm is over: no more faults; leases end, reconciliation and dispatch settle the rest.
        chaos.on = False
        settle_env = {**worker_env, "NOTIFICATIONS_SENDING_LEASE_SECONDS": "1"}
        time.sleep(2)
        for _ in range(30):
            for job in ("reconcile", "deliver"):
                subprocess.run(
                    [sys.executable, "manage.py", "run_reminders", job],
                    cwd=ROOT,
                    env=settle_env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            open_rows = Delivery.objects.filter(status__in=["pending", "sending", "unknown"]).count()
            if not open_rows:
                break
            time.sleep(2)
        abandon_stale_runs(now=timezone.now() + dt.timedelta(minutes=5))  # every killed run's heartbeat is long gone
        connection.close()

        accepted = _accepted(provider)
        deliveries = {d.pk: d for d in Delivery.objects.select_related("event")}
        late = [
            (arrived - deliveries[pk].expires_at).total_seconds()
            for pk, arrived in accepted["first_arrival"].items()
            if deliveries[pk].expires_at and arrived > deliveries[pk].expires_at
        ]
        after_suppression = sum(
            1
            for pk, arrived in accepted["first_arrival"].items()
            if suppressed_at
            and deliveries[pk].channel == "email"
            and deliveries[pk].subject_id in SUPPRESSED(args.messages)
            and arrived > suppressed_at + dt.timedelta(seconds=1)
        )
        statuses = Counter(d.status for d in deliveries.values())
        recorded_sent = [d for d in deliveries.values() if d.status in ("sent", "delivered")]
        runs = Counter(JobExecutionLog.objects.values_list("status", flat=True))
        figures = {
            "storm": f"{args.seconds:.0f} s, {args.workers} dispatch loops + 1 reconcile loop + {args.cron} cron loops"
            + (" + a qcluster on Redis" if cluster else "")
            + f", {storm_end - start}",
            "messages planned": total,
            "provider requests": f"{len(provider.requests)} sends, {len(provider.searches)} searches",
            "faults injected": dict(chaos.faults),
            "killed": dict(kills),
            "duplicates (accepted twice)": sum(1 for n in accepted["count"].values() if n > 1),
            "lost (accepted, not recorded sent)": sum(
                1 for pk in accepted["count"] if deliveries[pk].status not in ("sent", "delivered", "failed")
            ),
            "recorded sent without an acceptance": sum(1 for d in recorded_sent if d.pk not in accepted["count"]),
            "recorded sent with another row's message": sum(
                1
                for d in recorded_sent
                if d.channel == "whatsapp" and accepted["owner"].get(d.provider_message_id, d.pk) != d.pk
            ),
            "final statuses": dict(statuses),
            "failed for good": dict(Counter(d.error_code or "?" for d in deliveries.values() if d.status == "failed")),
            "unknown when the storm ended": unknown_after_storm,
            "unknown left after settling": statuses["unknown"],
            "rows waiting on a dead lease > 60 s (most at once)": max(dead_lease.most, waiting_on_dead_leases),
            "sent after their moment": f"{len(late)}" + (f" (the latest by {max(late):.3f} s)" if late else ""),
            "emails sent > 1 s after their address was suppressed": after_suppression,
            **domain.figures(deliveries=deliveries, first_arrival=accepted["first_arrival"]),
            "job runs": dict(runs),
            "job runs not final": runs["running"],
        }
        if cluster:
            figures["qcluster"] = cluster.figures(JobExecutionLog)
        return figures


class Chaos:
    """The fake provider's answers: faults while the storm lasts (a wrong URL's 404 to everything for
    a tenth of it), then plain acceptances."""

    def __init__(self, *, seconds: float):
        self.on = True
        self.seconds = seconds
        self.started = None
        self.faults = Counter()

    def answer(self, recorded):
        from tests.fakes import Reply, postmark_ok, twilio_ok

        ok = postmark_ok(recorded) if "/email" in recorded.path else twilio_ok(recorded)
        if not self.on:
            return ok
        elapsed = time.monotonic() - self.started if self.started else 0
        if 0.6 * self.seconds <= elapsed < 0.7 * self.seconds:
            self.faults["404 to everything"] += 1
            return Reply(404, {"ErrorCode": 404, "Message": "Not Found", "code": 20404, "status": 404})
        roll = random.random()
        for name, share, reply in (
            ("drop", 0.04, Reply(ok.status, ok.body, drop=True)),
            ("reset", 0.04, Reply(reset=True)),
            ("hang", 0.03, Reply(ok.status, ok.body, delay=4)),  # past the 2 s client timeout
            (
                "429",
                0.06,
                Reply(429, {"ErrorCode": 429, "Message": "slow down", "code": 20429}, headers={"Retry-After": "3"}),
            ),
            ("503", 0.05, Reply(503, {"ErrorCode": 503, "Message": "unavailable", "code": 503})),
        ):
            if roll < share:
                self.faults[name] += 1
                return reply
            roll -= share
        return Reply(ok.status, ok.body, delay=random.uniform(0.005, 0.05))


def _worker_env(env: dict, provider) -> dict:
    return {
        **env,
        "MOCK_MODE": "false",
        "POSTMARK_SERVER_TOKEN": "storm",
        "POSTMARK_API_URL": provider.url + "/",
        "EMAIL_TIMEOUT": "2",
        "WHATSAPP_BACKEND": "notifications.channels.whatsapp.twilio.WhatsAppBackend",
        "TWILIO_ACCOUNT_SID": "AC" + "5" * 32,
        "TWILIO_AUTH_TOKEN": "storm",
        "TWILIO_WHATSAPP_FROM": "+14155238886",
        "TWILIO_API_BASE_URL": provider.url,
        "TWILIO_CONTENT_SIDS": ",".join(
            f"{kind}=HX{n}" + "c" * 31
            for n, kind in enumerate(("payment_reminder", "session_24h", "session_moved", "session_15min"))
        ),
        "TWILIO_TIMEOUT": "2",
        "SITE_URL": "https://school.example",
        # A sender tier above the storm's numbers (bench + students): the 1,000 default holds the rest back.
        "WHATSAPP_DAILY_UNIQUE_RECIPIENTS": "10000",
        "NOTIFICATIONS_DISPATCH_BATCH_SIZE": "50",
        "NOTIFICATIONS_RECONCILE_AFTER_SECONDS": "1",
        "NOTIFICATIONS_RETRY_BASE_SECONDS": "2",
        "NOTIFICATIONS_RETRY_MAX_SECONDS": "10",
        "NOTIFICATIONS_PAUSE_BASE_SECONDS": "2",
        "NOTIFICATIONS_MAX_ATTEMPTS": "20",
        "NOTIFICATIONS_DISPATCH_RUN_SECONDS": "20",
        "AUTOMATION_SCHEDULER_STALL_SECONDS": "100",
        "Q_WORKERS": "2",
        "Q_POLL": "0.5",
        "Q_TIMEOUT": "60",
        "Q_RETRY": "90",
    }


def _plan(messages: int) -> int:
    """Plan an email and a WhatsApp message per recipient, and for a third of them one or two more
    WhatsApp messages to the same number (other payments: other amounts, other links)."""
    from notifications.models import Delivery
    from notifications.services.planning import PlannedMessage, Recipient, plan_messages

    def planned(i: int, payment: int) -> PlannedMessage:
        return PlannedMessage(
            recipient=Recipient(
                user_id=None,
                email="" if payment else f"storm{i}@example.com",  # the extra payments: WhatsApp only
                phone=f"+9197{i:08d}",
                whatsapp_opt_in=True,
                name=f"Storm {i}",
            ),
            event_key=f"storm-{i}" + (f"-{payment}" if payment else ""),
            context={"amount": f"₹{5 + payment},000", "payment_url": f"https://pay.example.com/{i}/{payment}"},
            subject_type="bench.storm",
            subject_id=i,
        )

    plan_messages(kind="payment_reminder", messages=(planned(i, 0) for i in range(messages)))
    plan_messages(
        kind="payment_reminder",
        messages=(planned(i, payment) for i in range(0, messages, 3) for payment in range(1, 2 + i % 2)),
    )
    return Delivery.objects.count()


def _loop(name: str, command: list[str], env: dict, procs: dict, stop: threading.Event) -> None:
    while not stop.is_set():
        procs[name] = subprocess.Popen(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs[name].wait()


def _terminate_connections(connection, *, count: int) -> int:
    """Terminate `count` of the storm database's other connections (a network blip, a failover)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "ORDER BY random() LIMIT %s",
            [count],
        )
        pids = [pid for (pid,) in cursor.fetchall()]
        for pid in pids:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    return len(pids)


class DeadLeaseWatch:
    """Samples, every few seconds, the rows still `sending` more than 60 s after their claim's last
    renewal: rows waiting on a dead worker's lease."""

    def __init__(self):
        self.most = 0

    def sample(self, then_sleep: float) -> int:
        from django.db import connection
        from django.utils import timezone

        from notifications.models import Delivery

        try:
            waiting = Delivery.objects.filter(
                status="sending", claimed_at__lt=timezone.now() - dt.timedelta(seconds=60)
            ).count()
        except Exception:  # our own connection was one of those terminated
            connection.close()
            waiting = 0
        self.most = max(self.most, waiting)
        time.sleep(then_sleep)
        return waiting


class Supervised:
    """A real qcluster under the README's supervisor: restarted when `check_health --scheduler` fails
    (stopped with SIGTERM, then SIGKILL for the whole group after 15 s, as systemd's KillMode=mixed
    with TimeoutStopSec=15 does)."""

    def __init__(self, env: dict, redis_url: str):
        import redis

        redis.Redis.from_url(redis_url).flushdb()
        self.env = {**env, "REDIS_URL": redis_url}
        self.log = ROOT / "var" / "storm-qcluster.log"
        self.log.parent.mkdir(exist_ok=True)
        self.log.write_text("")
        self.proc = None
        self.restarts = 0
        self.checks = Counter()
        self.children_killed_at = None
        self.killed_dt = None
        subprocess.run(
            [sys.executable, "manage.py", "setup_schedules"],
            cwd=ROOT,
            env=self.env,
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def start(self) -> None:
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def supervise(self, stop: threading.Event) -> None:
        self.start()
        try:
            while not stop.wait(10):
                check = subprocess.run(
                    [sys.executable, "manage.py", "check_health", "--scheduler"],
                    cwd=ROOT,
                    env=self.env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
                stalled = check.returncode == 1 and b"qcluster: no scheduled job" in check.stderr
                self.checks["stalled" if stalled else "ok" if check.returncode == 0 else "could not tell"] += 1
                if self.proc.poll() is not None or stalled:
                    self.stop()
                    self.start()
                    self.restarts += 1
        finally:
            self.stop()

    def kill_children(self) -> int:
        """SIGKILL the cluster's worker children (their pids from its log); return how many."""
        import re

        from django.utils import timezone

        pids = {int(pid) for pid in re.findall(r"ready for work at (\d+)", self.log.read_text())}
        killed = 0
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        self.children_killed_at = time.monotonic()
        self.killed_dt = timezone.now()
        return killed

    def figures(self, logs) -> str:
        before = logs.objects.filter(trigger="schedule", completed_at__isnull=False)
        after = before.filter(started_at__gt=self.killed_dt) if self.killed_dt else before.none()
        return (
            f"{before.count()} scheduled runs completed, {after.count()} after its worker children were killed; "
            f"restarted by the supervisor {self.restarts} time(s); liveness checks {dict(self.checks)}"
        )


def _accepted(provider) -> dict:
    """What the provider accepted, by our delivery id (Postmark metadata; Twilio's callback URL)."""
    count, first, owner = Counter(), {}, {}
    for message in provider.emails:
        pk = int(message["Metadata"]["delivery_id"])
        count[pk] += 1
        first.setdefault(pk, dt.datetime.fromisoformat(message["ReceivedAt"]))
    for message in provider.messages:
        pk = int(parse_qs(urlsplit(message["status_callback"]).query)["delivery_id"][0])
        count[pk] += 1
        owner[message["sid"]] = pk
        first.setdefault(pk, provider.kept_at[message["sid"]])
    return {"count": count, "first_arrival": first, "owner": owner}


def _admin_connection(url: str):
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username,
        password=parts.password or None,
        dbname="postgres",
        autocommit=True,
    ), parts.path.lstrip("/")


def _create_database(url: str) -> None:
    admin, name = _admin_connection(url)
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def _drop_database(url: str) -> None:
    admin, name = _admin_connection(url)
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
