"""Dispatch throughput: several requests in flight, urgent kinds first, a rate per channel."""

import datetime as dt
import itertools

import pytest
from django.utils import timezone

from notifications.models import Delivery
from notifications.services.dispatch import claim_due_deliveries, dispatch_due_deliveries
from notifications.services.dispatch.pacing import RateLimit
from notifications.services.planning import PlannedMessage, Recipient, plan_messages
from tests.fakes import FakeProvider, postmark_ok

pytestmark = pytest.mark.django_db
Status = Delivery.Status


def plan_payment_emails(count: int, *, kind: str = "payment_reminder") -> None:
    plan_messages(
        kind=kind,
        messages=(
            PlannedMessage(
                recipient=Recipient(user_id=None, email=f"payer{i}@example.com", name=f"Payer {i}"),
                event_key=f"load-{i}",
                context={"amount": "₹5,000", "payment_url": "https://pay.example.com/x"},
                subject_type="tests.event",
                subject_id=i,
            )
            for i in range(count)
        ),
    )


def test_a_worker_has_several_postmark_requests_in_flight_once_the_first_is_accepted(settings):
    settings.NOTIFICATIONS = {
        **settings.NOTIFICATIONS,
        "EMAILS_PER_REQUEST": 10,
        "DISPATCH_CONCURRENCY": {"email": 4, "whatsapp": 1},
    }
    latency = 0.4
    plan_payment_emails(90)
    with FakeProvider(default=postmark_ok, latency=latency) as provider:
        settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
        settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "test-token", "POSTMARK_API_URL": provider.url + "/"}

        result = dispatch_due_deliveries()

        arrivals = sorted(request.arrived for request in provider.requests)
    assert result.sent == 90 and len(arrivals) == 9
    assert Delivery.objects.filter(status=Status.SENT).count() == 90
    sent_ids = [message["Metadata"]["delivery_id"] for r in provider.requests for message in r.json()]
    assert len(sent_ids) == len(set(sent_ids)) == 90  # each once
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(arrivals)]
    # The first request goes alone (an account that cannot send costs one request); once it is
    # accepted the next ones overlap: one at a time, each would arrive a full answer time later.
    assert gaps[0] >= latency
    assert sum(gap < latency / 2 for gap in gaps[1:]) >= 3


def test_starting_soon_reminders_are_claimed_before_bulk_emails_that_were_due_earlier(django_user_model):
    from lms.reminders import plan_session_reminders_15min
    from lms.tests.factories import EnrollmentFactory, LiveSessionFactory

    plan_payment_emails(5)
    Delivery.objects.update(next_attempt_at=timezone.now() - dt.timedelta(hours=1))
    session = LiveSessionFactory(scheduled_at=timezone.now() + dt.timedelta(minutes=10))
    EnrollmentFactory(course=session.course)
    plan_session_reminders_15min(now=timezone.now())

    priorities = dict(Delivery.objects.values_list("event__kind", "priority").distinct())
    assert priorities == {"session_15min": 0, "payment_reminder": 3}
    claimed = claim_due_deliveries(now=timezone.now(), limit=1)
    assert [delivery.kind for delivery in claimed] == ["session_15min"]


def test_marketing_kinds_are_bulk_and_other_kinds_in_between():
    plan_payment_emails(1, kind="lead_day3")
    plan_payment_emails(1, kind="cta_rejected")

    assert dict(Delivery.objects.values_list("event__kind", "priority")) == {"lead_day3": 3, "cta_rejected": 2}


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(round(seconds, 3))
        self.now += seconds


def test_a_channel_rate_limit_spaces_requests_to_its_messages_a_second():
    clock = FakeClock()
    limit = RateLimit(10, clock=clock, sleep=clock.sleep)

    assert limit.wait(10) == 0  # a second's worth at once
    assert limit.wait(5) == pytest.approx(0.5)  # then five more only half a second later
    clock.now += 2.0  # idle: the bucket refills, but never past a second's worth
    assert limit.wait(10) == 0
    assert limit.wait(1) == pytest.approx(0.1)
    assert RateLimit(0, clock=clock, sleep=clock.sleep).wait(1000) == 0  # no limit


def test_a_worker_has_several_whatsapp_messages_in_flight_and_its_sending_threads_touch_no_database(settings):
    """WhatsApp goes one message a request: by default a worker keeps up to 4 in flight, from threads
    that only talk HTTP. The rows they send are this test's, uncommitted (a sending thread with a
    connection of its own would not find them): every message goes once, several at a time."""
    from django.db.backends.signals import connection_created

    from tests.fakes import twilio_ok
    from tests.test_faults import plan_payment_whatsapps, use_twilio

    assert settings.NOTIFICATIONS.get("DISPATCH_CONCURRENCY") is None  # the default: whatsapp=4
    plan_payment_whatsapps(9)
    latency = 1.0
    connected_in = set()

    def note_the_thread(**kwargs):
        import threading

        connected_in.add(threading.current_thread().name)

    with FakeProvider(default=twilio_ok, latency=latency) as provider:
        use_twilio(settings, provider)
        connection_created.connect(note_the_thread)
        try:
            result = dispatch_due_deliveries()
        finally:
            connection_created.disconnect(note_the_thread)
        arrivals = sorted(request.arrived for request in provider.requests)
    assert result.sent == 9 and len(arrivals) == 9
    assert len({request.form()["To"] for request in provider.requests}) == 9  # each once
    # Overlapping requests: each arrived less than an answer's time after the one before. The first
    # goes alone (an account that cannot send costs one request); one at a time, none would overlap.
    overlapping = sum((later - earlier).total_seconds() < latency for earlier, later in itertools.pairwise(arrivals))
    assert overlapping >= 2
    # No sending thread opened a database connection (the lease keeper's thread may, once a lease is due).
    assert not {name for name in connected_in if name.startswith("dispatch-send")}
