"""Fault injection over real HTTP and real processes: crashes and concurrent workers never duplicate."""

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from notifications.models import Delivery
from notifications.services.dispatch import dispatch_due_deliveries
from notifications.services.planning import PlannedMessage, Recipient, plan_messages
from tests.fakes import FakeProvider, Reply, postmark_ok

ROOT = Path(settings.BASE_DIR)
Status = Delivery.Status
pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def plan_payment_emails(count: int) -> None:
    plan_messages(
        kind="payment_reminder",
        messages=(
            PlannedMessage(
                recipient=Recipient(user_id=None, email=f"payer{i}@example.com", name=f"Payer {i}"),
                event_key=f"fault-{i}",
                context={"amount": "₹5,000", "payment_url": "https://pay.example.com/x"},
                subject_type="tests.event",
                subject_id=i,
            )
            for i in range(count)
        ),
    )


def worker_env(provider: FakeProvider) -> dict:
    db = connection.settings_dict
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
        "DJANGO_ENV": "test",
        "MOCK_MODE": "false",
        "POSTMARK_SERVER_TOKEN": "fault-test",
        "POSTMARK_API_URL": provider.url + "/",
        "WHATSAPP_BACKEND": "notifications.channels.whatsapp.locmem.WhatsAppBackend",
        "NOTIFICATIONS_DISPATCH_BATCH_SIZE": "25",
    }


def kill_a_worker_once_it_has_called(provider: FakeProvider) -> None:
    """Start `run_reminders deliver` and kill it as soon as the provider has its first request."""
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "run_reminders", "deliver"],
        cwd=ROOT,
        env=worker_env(provider),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not provider.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert provider.requests, "the worker never called the provider"
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)


def dispatch_after_the_lease_runs_out(provider: FakeProvider) -> None:
    """Run dispatch here, past the killed worker's lease and again an hour later."""
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=settings.NOTIFICATIONS["SENDING_LEASE_SECONDS"] + 1)
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "fault-test", "POSTMARK_API_URL": provider.url + "/"}
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    dispatch_due_deliveries(now=later)
    dispatch_due_deliveries(now=later + dt.timedelta(hours=1))


def test_a_worker_killed_between_the_provider_call_and_recording_it_causes_no_duplicate():
    plan_payment_emails(1)
    with FakeProvider(default=postmark_ok) as provider:
        provider.queue(Reply(200, {"ErrorCode": 0, "Message": "OK", "MessageID": "m1", "To": "x"}, delay=20))
        kill_a_worker_once_it_has_called(provider)  # the provider has the message; we never hear back

        delivery = Delivery.objects.get()
        assert delivery.status == Status.SENDING
        dispatch_after_the_lease_runs_out(provider)

        delivery.refresh_from_db()
        assert delivery.status == Status.UNKNOWN
        assert len(provider.requests) == 1


def test_a_worker_killed_while_postmark_holds_a_batch_leaves_each_email_of_it_unknown_and_unsent_again():
    plan_payment_emails(3)
    with FakeProvider(default=postmark_ok) as provider:
        provider.queue(Reply(200, [], delay=20))
        kill_a_worker_once_it_has_called(provider)

        assert provider.requests[0].path == "/email/batch" and len(provider.requests[0].json()) == 3
        assert set(Delivery.objects.values_list("status", flat=True)) == {Status.SENDING}
        dispatch_after_the_lease_runs_out(provider)

        assert set(Delivery.objects.values_list("status", flat=True)) == {Status.UNKNOWN}
        assert len(provider.requests) == 1


def test_two_dispatch_processes_over_a_thousand_deliveries_send_each_exactly_once():
    plan_payment_emails(1000)
    with FakeProvider(default=postmark_ok, latency=0.002) as provider:
        command = [sys.executable, "manage.py", "run_reminders", "deliver"]
        workers = [
            subprocess.Popen(
                command, cwd=ROOT, env=worker_env(provider), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
            for _ in range(2)
        ]
        outputs = [worker.communicate(timeout=300)[0].decode() for worker in workers]
        assert all(worker.returncode == 0 for worker in workers), outputs

        # Emails go out 25 to a request (Postmark's batch API); a lone one to /email.
        messages = [m for r in provider.requests for m in (r.json() if isinstance(r.json(), list) else [r.json()])]
        delivery_ids = Counter(message["Metadata"]["delivery_id"] for message in messages)
    assert len(delivery_ids) == 1000
    assert max(delivery_ids.values()) == 1
    assert Delivery.objects.filter(status=Status.SENT).count() == 1000
    # Both workers took a share of the work (neither was shut out by a job lock).
    sent = [re.search(r"deliver_messages\s+(\w+)\s+-\s+(\d+)", output).groups() for output in outputs]
    assert all(status == "success" and int(count) > 0 for status, count in sent), outputs
