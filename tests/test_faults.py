"""Fault injection over real HTTP and real processes: crashes, lost answers and concurrent workers never
duplicate, lose or strand a message; what may have gone out is settled by reconciliation or a callback."""

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
from django.test import Client
from django.utils import timezone
from twilio.request_validator import RequestValidator

from automation.models import JobExecutionLog
from automation.services import abandon_stale_runs
from notifications.conf import conf
from notifications.models import Delivery, DeliveryEvent, Suppression
from notifications.services.dispatch import dispatch_due_deliveries
from notifications.services.planning import PlannedMessage, Recipient, plan_messages
from notifications.services.reconcile import reconcile_unknown_deliveries
from tests.fakes import FakeProvider, Reply, postmark_ok, twilio_ok

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
        "NOTIFICATIONS_EMAILS_PER_REQUEST": "10",
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


def use_postmark(settings, provider: FakeProvider) -> None:
    """Point anymail's Postmark backend at `provider` (with pytest-django's `settings`, undone after the test)."""
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "fault-test", "POSTMARK_API_URL": provider.url + "/"}
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"


def dispatch_after_the_lease_runs_out(settings, provider: FakeProvider) -> dt.datetime:
    """Run dispatch here, past the killed worker's lease and again an hour later; return that later time."""
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=conf.sending_lease_seconds + 1)
    use_postmark(settings, provider)
    dispatch_due_deliveries(now=later)
    dispatch_due_deliveries(now=later + dt.timedelta(hours=1))
    return later + dt.timedelta(hours=1)


def reconcile_at(moment: dt.datetime) -> None:
    reconcile_unknown_deliveries(now=moment + dt.timedelta(seconds=conf.reconcile_after_seconds))


def sent_delivery_ids(provider: FakeProvider) -> Counter:
    """How many times the provider accepted each delivery id (its own record, answered or not)."""
    return Counter(message["Metadata"]["delivery_id"] for message in provider.emails)


def test_a_worker_killed_between_the_provider_call_and_recording_it_causes_no_duplicate(settings):
    plan_payment_emails(1)
    with FakeProvider(default=postmark_ok) as provider:
        provider.queue(Reply(200, {"ErrorCode": 0, "Message": "OK", "MessageID": "m1", "To": "x"}, delay=20))
        kill_a_worker_once_it_has_called(provider)  # the provider has the message; we never hear back

        delivery = Delivery.objects.get()
        assert delivery.status == Status.SENDING
        dispatch_after_the_lease_runs_out(settings, provider)

        delivery.refresh_from_db()
        assert delivery.status == Status.UNKNOWN
        assert len(provider.requests) == 1

        # Reconciliation finds it at Postmark by its delivery id and settles it: sent, never resent.
        reconcile_at(timezone.now() + dt.timedelta(hours=2))
        delivery.refresh_from_db()
        assert (delivery.status, delivery.provider_message_id) == (Status.SENT, "m1")
        assert "Reconciled: Postmark has message m1" in delivery.events.last().detail
        assert len(provider.requests) == 1


def test_a_worker_killed_while_postmark_holds_a_batch_leaves_each_email_of_it_unknown_and_unsent_again(settings):
    plan_payment_emails(3)
    with FakeProvider(default=postmark_ok) as provider:
        provider.queue(Reply(200, [], delay=20))
        kill_a_worker_once_it_has_called(provider)

        assert provider.requests[0].path == "/email/batch" and len(provider.requests[0].json()) == 3
        assert set(Delivery.objects.values_list("status", flat=True)) == {Status.SENDING}
        dispatch_after_the_lease_runs_out(settings, provider)

        assert set(Delivery.objects.values_list("status", flat=True)) == {Status.UNKNOWN}
        assert len(provider.requests) == 1

        reconcile_at(timezone.now() + dt.timedelta(hours=2))
        assert set(Delivery.objects.values_list("status", flat=True)) == {Status.SENT}
        assert len(provider.requests) == 1 and max(sent_delivery_ids(provider).values()) == 1


def test_a_killed_worker_strands_nothing_it_never_handed_over_and_every_unknown_is_settled(settings):
    # 25 claimed at once, 10 to a Postmark request: the first request hangs (Postmark has it) and
    # the worker is killed. Only those 10 may be unknown; the 15 never sent go out once, later.
    plan_payment_emails(25)
    with FakeProvider(default=postmark_ok) as provider:
        provider.queue(Reply(200, [], delay=30))
        kill_a_worker_once_it_has_called(provider)
        in_request = {int(m["Metadata"]["delivery_id"]) for m in provider.requests[0].json()}
        assert len(in_request) == 10
        assert Delivery.objects.filter(status=Status.SENDING).count() == 25

        later = dispatch_after_the_lease_runs_out(settings, provider)
        unknown = set(Delivery.objects.filter(status=Status.UNKNOWN).values_list("id", flat=True))
        assert unknown == in_request
        assert Delivery.objects.filter(status=Status.SENT).count() == 15

        reconcile_at(later)

        assert Delivery.objects.filter(status=Status.SENT).count() == 25
        accepted = sent_delivery_ids(provider)
        assert len(accepted) == 25 and max(accepted.values()) == 1  # nothing lost, nothing twice
        for delivery in Delivery.objects.filter(id__in=in_request):
            assert delivery.provider_message_id.startswith("pm-kept-")
            assert [e.status for e in delivery.events.all()] == [Status.UNKNOWN, Status.SENT]


def test_a_killed_run_is_marked_abandoned_once_its_heartbeat_stops():
    plan_payment_emails(3)
    with FakeProvider(default=postmark_ok) as provider:
        provider.queue(Reply(200, [], delay=30))
        kill_a_worker_once_it_has_called(provider)

    run = JobExecutionLog.objects.get(job_name="deliver_messages")
    assert run.status == "running"
    assert abandon_stale_runs(now=timezone.now()) == 0  # still within its grace
    assert abandon_stale_runs(now=timezone.now() + dt.timedelta(minutes=2)) == 1
    run.refresh_from_db()
    assert run.status == "abandoned" and run.completed_at


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


# --- WhatsApp through Twilio's real client, in this process -------------------------------------

TWILIO_SID, TWILIO_TOKEN = "AC" + "1" * 32, "fault-secret"


def use_twilio(settings, provider: FakeProvider) -> None:
    """Point the Twilio backend at `provider` (with pytest-django's `settings`, undone after the test)."""
    settings.WHATSAPP_BACKEND = "notifications.channels.whatsapp.twilio.WhatsAppBackend"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = TWILIO_SID, TWILIO_TOKEN
    settings.TWILIO_WHATSAPP_FROM = "+14155238886"
    settings.TWILIO_API_BASE_URL = provider.url
    settings.TWILIO_CONTENT_SIDS = {"payment_reminder": "HX" + "b" * 32}
    settings.TWILIO_TIMEOUT = 2


def plan_payment_whatsapps(count: int) -> list[Delivery]:
    plan_messages(
        kind="payment_reminder",
        messages=(
            PlannedMessage(
                recipient=Recipient(
                    user_id=None, email="", phone=f"+9198765{i:05d}", whatsapp_opt_in=True, name=f"Payer {i}"
                ),
                event_key=f"wa-fault-{i}",
                context={"amount": "₹5,000", "payment_url": "https://pay.example.com/x", "first_name": "Payer"},
                subject_type="tests.event",
                subject_id=i,
            )
            for i in range(count)
        ),
    )
    return list(Delivery.objects.filter(channel="whatsapp").order_by("id"))


def test_a_whatsapp_answer_lost_after_twilio_accepted_it_is_settled_sent_and_one_reset_before_is_resent(settings):
    with FakeProvider(default=twilio_ok) as provider:
        use_twilio(settings, provider)
        dropped, reset = plan_payment_whatsapps(2)
        provider.queue(Reply(201, drop=True), Reply(reset=True))
        dispatch_due_deliveries()
        dropped.refresh_from_db(), reset.refresh_from_db()
        assert (dropped.status, reset.status) == (Status.UNKNOWN, Status.UNKNOWN)  # we cannot tell which

        settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "RECONCILE_AFTER_SECONDS": 0}
        reconcile_unknown_deliveries()
        dropped.refresh_from_db(), reset.refresh_from_db()
        assert dropped.status == Status.SENT
        assert dropped.provider_message_id == provider.messages[0]["sid"]
        assert reset.status == Status.PENDING
        assert "no record" in reset.events.last().detail
        search = provider.searches[0].query()
        assert search["To"].startswith("whatsapp:+9198765") and "DateSent>" in search

        dispatch_due_deliveries()
        reset.refresh_from_db()
        assert reset.status == Status.SENT
        assert sorted(m["to"] for m in provider.messages) == sorted(
            f"whatsapp:{d.to_address}" for d in (dropped, reset)
        )


def test_a_status_callback_that_overtakes_twilios_answer_still_fails_and_suppresses_the_number(settings):
    def call_back_before_answering(message: dict) -> None:
        # Twilio reports the failure before its 201 answer reaches the worker.
        params = {
            "MessageSid": message["sid"],
            "MessageStatus": "undelivered",
            "ErrorCode": "63024",
            "To": message["to"],
        }
        url = message["status_callback"]
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, params)
        path = url.removeprefix("https://school.example")
        answered = Client().post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)
        assert answered.status_code == 200

    with FakeProvider(default=twilio_ok, on_accept=call_back_before_answering) as provider:
        use_twilio(settings, provider)
        settings.SITE_URL, settings.TWILIO_STATUS_CALLBACK_URL = "https://school.example", ""
        (delivery,) = plan_payment_whatsapps(1)
        dispatch_due_deliveries()

    delivery.refresh_from_db()
    assert delivery.status == Status.FAILED
    assert delivery.provider_message_id == provider.messages[0]["sid"]
    assert Suppression.objects.filter(channel="whatsapp", address=delivery.to_address).exists()
    assert DeliveryEvent.objects.filter(delivery=delivery, status=Status.FAILED).exists()


def test_a_number_suppressed_while_a_batch_is_going_out_gets_nothing_more(settings):
    def suppress_the_rest(message: dict) -> None:
        for delivery in Delivery.objects.exclude(to_address=message["to"].removeprefix("whatsapp:")):
            Suppression.objects.get_or_create(channel="whatsapp", address=delivery.to_address, reason="opted_out")

    with FakeProvider(default=twilio_ok, on_accept=suppress_the_rest) as provider:
        use_twilio(settings, provider)
        plan_payment_whatsapps(4)
        dispatch_due_deliveries()

    assert len(provider.requests) == 1
    statuses = Counter(Delivery.objects.values_list("status", flat=True))
    assert statuses == {Status.SENT: 1, Status.SUPPRESSED: 3}


def test_a_message_whose_moment_passes_while_a_slow_batch_goes_out_is_not_sent_late(settings):
    # One message at a time (6 x 0.5 s), so the moment passes inside the batch; four at once would send
    # all six in about 1 s, before it.
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "DISPATCH_CONCURRENCY": {"email": 4, "whatsapp": 1}}
    with FakeProvider(default=twilio_ok, latency=0.5) as provider:
        use_twilio(settings, provider)
        deliveries = plan_payment_whatsapps(6)
        moment = timezone.now() + dt.timedelta(seconds=1.2)
        Delivery.objects.update(expires_at=moment)
        dispatch_due_deliveries()
        arrivals = [request.arrived for request in provider.requests]

    statuses = Counter(Delivery.objects.values_list("status", flat=True))
    assert statuses[Status.SENT] == len(provider.requests) and statuses[Status.EXPIRED] >= 1
    assert statuses[Status.SENT] + statuses[Status.EXPIRED] == len(deliveries)
    assert all(arrived < moment for arrived in arrivals)
