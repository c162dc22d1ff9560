"""
`python -m bench.storm [--seconds 120] [--messages 2000] [--workers 3]`: a fault storm, bounded in time.

Plans emails and WhatsApp messages in a database of its own (coursehub_storm, created, migrated
and dropped), starts a fake Postmark + Twilio on 127.0.0.1 that accepts-then-drops, hangs, resets
and answers 429 (with Retry-After) and 5xx, and runs `run_reminders deliver` loops and a
`run_reminders reconcile` loop while it kills a dispatch worker with SIGKILL every few seconds.
Mid-run it suppresses some addresses and lets some messages' moment pass. Then the faults stop,
reconciliation and dispatch settle everything, and it prints the figures: duplicates, lost,
`unknown` left, messages sent after their moment or their suppression, job runs not final.
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
    parser.add_argument("--workers", type=int, default=3, help="dispatch loops at once (default 3)")
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
    from notifications.services.planning import PlannedMessage, Recipient, plan_messages
    from tests.fakes import FakeProvider, Reply, postmark_ok, twilio_ok

    chaos = {"on": True}
    faults = Counter()

    def answer(recorded):
        ok = postmark_ok(recorded) if "/email" in recorded.path else twilio_ok(recorded)
        if not chaos["on"]:
            return ok
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
                faults[name] += 1
                return reply
            roll -= share
        return Reply(ok.status, ok.body, delay=random.uniform(0.005, 0.05))

    with FakeProvider(default=answer) as provider:
        worker_env = {
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
            "TWILIO_CONTENT_SIDS": "payment_reminder=HX" + "c" * 32,
            "TWILIO_TIMEOUT": "2",
            "SITE_URL": "https://school.example",
            "NOTIFICATIONS_DISPATCH_BATCH_SIZE": "50",
            "NOTIFICATIONS_SENDING_LEASE_SECONDS": "8",
            "NOTIFICATIONS_RECONCILE_AFTER_SECONDS": "1",
            "NOTIFICATIONS_RETRY_BASE_SECONDS": "2",
            "NOTIFICATIONS_RETRY_MAX_SECONDS": "10",
            "NOTIFICATIONS_MAX_ATTEMPTS": "20",
            "NOTIFICATIONS_DISPATCH_RUN_SECONDS": "20",
        }
        start = timezone.now()
        plan_messages(
            kind="payment_reminder",
            messages=(
                PlannedMessage(
                    recipient=Recipient(
                        user_id=None,
                        email=f"storm{i}@example.com",
                        phone=f"+9197{i:08d}",
                        whatsapp_opt_in=True,
                        name=f"Storm {i}",
                    ),
                    event_key=f"storm-{i}",
                    context={"amount": "₹5,000", "payment_url": "https://pay.example.com/x"},
                    subject_type="bench.storm",
                    subject_id=i,
                )
                for i in range(args.messages)
            ),
        )
        total = Delivery.objects.count()
        # A tenth of the messages lose their moment a third of the way in.
        moment = start + dt.timedelta(seconds=args.seconds / 3)
        Delivery.objects.filter(subject_id__lt=args.messages // 10).update(expires_at=moment)

        stop = threading.Event()
        procs: dict[str, subprocess.Popen] = {}
        kills = Counter()

        def loop(name: str, job: str) -> None:
            while not stop.is_set():
                procs[name] = subprocess.Popen(
                    [sys.executable, "manage.py", "run_reminders", job],
                    cwd=ROOT,
                    env=worker_env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                procs[name].wait()

        threads = [threading.Thread(target=loop, args=(f"deliver{n}", "deliver")) for n in range(args.workers)]
        threads.append(threading.Thread(target=loop, args=("reconcile", "reconcile")))
        for thread in threads:
            thread.start()

        suppressed_at = None
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            time.sleep(random.uniform(2, 5))
            victim = procs.get(f"deliver{random.randrange(args.workers)}")
            if victim and victim.poll() is None:
                victim.send_signal(signal.SIGKILL)
                kills["dispatch"] += 1
            if suppressed_at is None and time.monotonic() > deadline - args.seconds / 2:
                # People opt out mid-storm: nothing more may reach them from this moment.
                suppressed_at = timezone.now()
                addresses = [f"storm{i}@example.com" for i in SUPPRESSED(args.messages)]
                Suppression.objects.bulk_create(
                    [Suppression(channel="email", address=a, reason="unsubscribed") for a in addresses],
                    ignore_conflicts=True,
                )
        stop.set()
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills["at the end"] += 1
        for thread in threads:
            thread.join()
        storm_end = timezone.now()
        unknown_after_storm = Delivery.objects.filter(status="unknown").count()

        # The storm is over: no more faults; leases end, reconciliation and dispatch settle the rest.
        chaos["on"] = False
        settle_env = {**worker_env, "NOTIFICATIONS_SENDING_LEASE_SECONDS": "1"}
        time.sleep(2)
        for _ in range(30):
            for job in ("reconcile", "deliver"):
                subprocess.run(
                    [sys.executable, "manage.py", "run_reminders", job],
                    cwd=ROOT,
                    env=settle_env,
                    stdout=subprocess.DEVNULL,
                )
            open_rows = Delivery.objects.filter(status__in=["pending", "sending", "unknown"]).count()
            if not open_rows:
                break
            time.sleep(2)
        abandon_stale_runs(now=timezone.now() + dt.timedelta(minutes=5))  # every killed run's heartbeat is long gone
        connection.close()

        accepted = _accepted(provider)
        deliveries = {d.pk: d for d in Delivery.objects.all()}
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
        runs = Counter(JobExecutionLog.objects.values_list("status", flat=True))
        return {
            "storm": f"{args.seconds:.0f} s, {args.workers} dispatch loops + 1 reconcile loop, {storm_end - start}",
            "messages planned": total,
            "provider requests": f"{len(provider.requests)} sends, {len(provider.searches)} searches",
            "faults injected": dict(faults),
            "workers killed (SIGKILL)": dict(kills),
            "duplicates (accepted twice)": sum(1 for n in accepted["count"].values() if n > 1),
            "lost (accepted, not recorded sent)": sum(
                1 for pk in accepted["count"] if deliveries[pk].status not in ("sent", "delivered", "failed")
            ),
            "final statuses": dict(statuses),
            "unknown when the storm ended": unknown_after_storm,
            "unknown left after settling": statuses["unknown"],
            "sent after their moment": f"{len(late)}" + (f" (the latest by {max(late):.3f} s)" if late else ""),
            "emails sent > 1 s after their address was suppressed": after_suppression,
            "job runs": dict(runs),
            "job runs not final": runs["running"],
        }


def _accepted(provider) -> dict:
    """What the provider accepted, by our delivery id (Postmark metadata; Twilio's callback URL)."""
    count, first = Counter(), {}
    for message in provider.emails:
        pk = int(message["Metadata"]["delivery_id"])
        count[pk] += 1
        first.setdefault(pk, dt.datetime.fromisoformat(message["ReceivedAt"]))
    for message in provider.messages:
        pk = int(parse_qs(urlsplit(message["status_callback"]).query)["delivery_id"][0])
        count[pk] += 1
        first.setdefault(pk, provider.kept_at[message["sid"]])
    return {"count": count, "first_arrival": first}


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
