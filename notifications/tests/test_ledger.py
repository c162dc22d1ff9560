"""The delivery ledger's promises: no duplicate, nothing lost, nothing sent that should not be."""

import datetime as dt
import uuid

import pytest
from django.core import mail
from django.db import transaction

from notifications.channels.base import Outcome, SendResult
from notifications.models import Delivery, DeliveryEvent, Notification, NotificationPreference, Suppression
from notifications.services.dispatch import claim_due_deliveries, dispatch_due_deliveries, hand_over, retry_delay
from notifications.services.ledger import requeue_deliveries
from tests.concurrency import run_at_once

from .helpers import NOW, plan_session_reminder

pytestmark = pytest.mark.django_db
Status = Delivery.Status


def test_planning_the_same_message_twice_gives_one_row_per_channel_and_one_send(student, whatsapp_sent):
    first = plan_session_reminder(student)
    second = plan_session_reminder(student)

    assert first.planned == {"email": 1, "whatsapp": 1, "inapp": 1}
    assert second.total == 0
    assert Delivery.objects.count() == 2
    assert Notification.objects.filter(user=student).count() == 1

    dispatch_due_deliveries(now=NOW)
    dispatch_due_deliveries(now=NOW + dt.timedelta(minutes=5))
    assert len(mail.outbox) == 1
    assert len(whatsapp_sent) == 1


def test_a_rolled_back_transaction_plans_and_sends_nothing(student, whatsapp_sent):
    with pytest.raises(RuntimeError), transaction.atomic():
        plan_session_reminder(student)
        raise RuntimeError("the business change failed")

    dispatch_due_deliveries(now=NOW)
    assert Delivery.objects.count() == 0
    assert Notification.objects.count() == 0
    assert mail.outbox == [] and whatsapp_sent == []


def test_sent_delivery_records_provider_id_and_exactly_what_was_sent(student):
    plan_session_reminder(student)
    result = dispatch_due_deliveries(now=NOW)

    assert result.sent == 2
    email = Delivery.objects.get(channel="email")
    assert email.status == Status.SENT
    assert email.provider_message_id
    assert email.rendered_subject == "Starts Tomorrow: Python Basics"
    assert 'Your session "Python Basics" starts tomorrow!' in email.rendered_text
    assert email.sent_at == NOW
    assert list(email.events.values_list("status", flat=True)) == [Status.SENT]
    message = mail.outbox[0]
    assert message.to == ["asha@example.com"]
    assert message.subject == "Starts Tomorrow: Python Basics"
    assert message.alternatives[0].mimetype == "text/html"
    assert message.extra_headers["X-Delivery-ID"] == str(email.pk)


class FlakyWhatsApp:
    """A WhatsApp backend whose provider keeps answering 503, for retry tests."""

    calls = 0

    def __init__(self, **kwargs):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def send(self, message):
        FlakyWhatsApp.calls += 1
        return SendResult(Outcome.TRANSIENT, error="HTTP 503 from provider", error_code="http_503")


class RefusingWhatsApp(FlakyWhatsApp):
    def send(self, message):
        FlakyWhatsApp.calls += 1
        return SendResult(Outcome.PERMANENT, error="Twilio 400 error 21211", error_code="21211", suppress=True)


def test_transient_errors_are_retried_with_growing_delays_until_the_cap(student, settings):
    settings.WHATSAPP_BACKEND = f"{__name__}.FlakyWhatsApp"
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "MAX_ATTEMPTS": 4, "RETRY_BASE_SECONDS": 60}
    FlakyWhatsApp.calls = 0
    plan_session_reminder(student)
    whatsapp = Delivery.objects.get(channel="whatsapp")

    now, delays = NOW, []
    for _ in range(4):
        dispatch_due_deliveries(now=now)
        whatsapp.refresh_from_db()
        if whatsapp.status != Status.PENDING:
            break
        delays.append((whatsapp.next_attempt_at - now).total_seconds())
        # Not retried before its time.
        dispatch_due_deliveries(now=now + dt.timedelta(seconds=1))
        assert FlakyWhatsApp.calls == len(delays)
        now = whatsapp.next_attempt_at

    assert FlakyWhatsApp.calls == 4
    assert whatsapp.status == Status.FAILED
    assert whatsapp.attempts == 4
    assert len(delays) == 3
    assert delays == sorted(delays) and delays[0] < delays[-1]
    assert 30 <= delays[0] <= 60 and 120 <= delays[2] <= 240
    assert "Gave up after 4 attempts" in whatsapp.events.last().detail


def test_retry_delays_grow_and_stay_under_the_cap(settings):
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "RETRY_BASE_SECONDS": 10, "RETRY_MAX_SECONDS": 100}
    for attempt in range(1, 10):
        low = retry_delay(attempts=attempt).total_seconds()
        high = retry_delay(attempts=attempt + 1).total_seconds()
        assert min(10 * 2 ** (attempt - 1), 100) / 2 <= low <= 100
        assert high >= min(low, 50)  # never shorter than half the cap once capped
    assert retry_delay(attempts=1, retry_after=90).total_seconds() >= 90


def test_permanent_errors_fail_at_once_and_suppress_the_number(student, settings):
    settings.WHATSAPP_BACKEND = f"{__name__}.RefusingWhatsApp"
    FlakyWhatsApp.calls = 0
    plan_session_reminder(student)
    dispatch_due_deliveries(now=NOW)
    dispatch_due_deliveries(now=NOW + dt.timedelta(hours=2))

    whatsapp = Delivery.objects.get(channel="whatsapp")
    assert FlakyWhatsApp.calls == 1
    assert whatsapp.status == Status.FAILED
    assert whatsapp.error_code == "21211"
    assert Suppression.objects.filter(channel="whatsapp", address="+919876543210").exists()


def test_a_suppressed_address_gets_no_provider_call(student):
    Suppression.objects.create(channel="email", address="asha@example.com", reason=Suppression.Reason.BOUNCED)
    plan_session_reminder(student)
    result = dispatch_due_deliveries(now=NOW)

    assert mail.outbox == []
    email = Delivery.objects.get(channel="email")
    assert email.status == Status.SUPPRESSED
    assert result.reasons["suppressed_bounced"] == 1


def test_a_marketing_unsubscribe_does_not_silence_class_reminders(student):
    Suppression.objects.create(
        channel="email", address="asha@example.com", category="marketing", reason=Suppression.Reason.UNSUBSCRIBED
    )
    plan_session_reminder(student)
    dispatch_due_deliveries(now=NOW)
    assert len(mail.outbox) == 1


def test_a_student_who_turned_off_whatsapp_reminders_gets_email_only(student, whatsapp_sent):
    NotificationPreference.objects.create(user=student, topic="reminders", channel="whatsapp", enabled=False)
    plan_session_reminder(student)
    dispatch_due_deliveries(now=NOW)

    assert len(mail.outbox) == 1
    assert whatsapp_sent == []
    assert Delivery.objects.get(channel="whatsapp").status == Status.SUPPRESSED


def test_whatsapp_is_not_planned_without_opt_in_or_with_an_invalid_number(student, whatsapp_sent):
    student.whatsapp_opt_in = False
    result = plan_session_reminder(student, event="1")
    assert result.skipped["whatsapp_not_opted_in"] == 1

    student.whatsapp_opt_in = True
    student.phone = "+91123"  # not a number anywhere
    result = plan_session_reminder(student, event="2")
    assert result.skipped["whatsapp_invalid_number"] == 1

    dispatch_due_deliveries(now=NOW)
    assert whatsapp_sent == []
    assert not Delivery.objects.filter(channel="whatsapp").exists()


def test_whatsapp_is_not_sent_when_the_student_opts_out_after_planning(student, whatsapp_sent):
    plan_session_reminder(student)
    type(student).objects.filter(pk=student.pk).update(whatsapp_opt_in=False)
    dispatch_due_deliveries(now=NOW)

    assert whatsapp_sent == []
    assert Delivery.objects.get(channel="whatsapp").status == Status.SUPPRESSED


def test_a_delivery_past_its_expiry_is_not_sent(student, whatsapp_sent):
    plan_session_reminder(student, expires_at=NOW + dt.timedelta(minutes=15))
    result = dispatch_due_deliveries(now=NOW + dt.timedelta(minutes=20))

    assert mail.outbox == [] and whatsapp_sent == []
    assert set(Delivery.objects.values_list("status", flat=True)) == {Status.EXPIRED}
    assert result.outcomes[Status.EXPIRED] == 2


def test_a_row_claimed_by_a_worker_that_died_before_handing_it_over_is_sent_once_after_the_lease(
    student, settings, whatsapp_sent
):
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "SENDING_LEASE_SECONDS": 300}
    plan_session_reminder(student)
    # A worker claims the rows and dies before any provider request.
    claimed = claim_due_deliveries(now=NOW, limit=10)
    assert len(claimed) == 2

    # Within the lease nothing happens; past it the rows go back to the queue and go out once.
    dispatch_due_deliveries(now=NOW + dt.timedelta(seconds=299))
    assert {d.status for d in Delivery.objects.all()} == {Status.SENDING}
    result = dispatch_due_deliveries(now=NOW + dt.timedelta(seconds=301))
    dispatch_due_deliveries(now=NOW + dt.timedelta(hours=3))

    assert result.requeued == 2 and result.outcomes[Status.UNKNOWN] == 0
    assert {(d.status, d.attempts) for d in Delivery.objects.all()} == {(Status.SENT, 1)}
    assert len(mail.outbox) == 1 and len(whatsapp_sent) == 1
    assert DeliveryEvent.objects.filter(status=Status.UNKNOWN).count() == 0


def test_a_row_inside_a_provider_request_when_its_worker_died_becomes_unknown_and_is_not_resent(
    student, settings, whatsapp_sent
):
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "SENDING_LEASE_SECONDS": 300}
    plan_session_reminder(student)
    claimed = claim_due_deliveries(now=NOW, limit=10)
    # The worker handed both to the provider (the requests went out) and died before the answers.
    assert len(hand_over(deliveries=claimed, now=NOW + dt.timedelta(seconds=10))) == 2

    dispatch_due_deliveries(now=NOW + dt.timedelta(seconds=309))  # the lease counts from the hand-over
    assert {d.status for d in Delivery.objects.all()} == {Status.SENDING}
    result = dispatch_due_deliveries(now=NOW + dt.timedelta(seconds=311))
    dispatch_due_deliveries(now=NOW + dt.timedelta(hours=3))

    assert result.outcomes[Status.UNKNOWN] == 2
    assert {d.status for d in Delivery.objects.all()} == {Status.UNKNOWN}
    assert mail.outbox == [] and whatsapp_sent == []
    assert DeliveryEvent.objects.filter(status=Status.UNKNOWN).count() == 2


def test_a_worker_whose_lease_ran_out_does_not_send_rows_given_back_meanwhile(student, settings, whatsapp_sent):
    from notifications.services.dispatch import DispatchResult, send_claimed_deliveries

    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "SENDING_LEASE_SECONDS": 300}
    plan_session_reminder(student)
    slow = claim_due_deliveries(now=NOW, limit=10)
    # The slow worker is still busy when another worker gives its rows back and sends them.
    dispatch_due_deliveries(now=NOW + dt.timedelta(seconds=301))
    assert len(mail.outbox) == 1 and len(whatsapp_sent) == 1

    send_claimed_deliveries(deliveries=slow, now=NOW + dt.timedelta(seconds=302), result=DispatchResult())

    assert len(mail.outbox) == 1 and len(whatsapp_sent) == 1
    assert {d.status for d in Delivery.objects.all()} == {Status.SENT}


def test_staff_can_requeue_an_unknown_delivery_and_it_is_then_sent(student):
    plan_session_reminder(student)
    hand_over(deliveries=claim_due_deliveries(now=NOW, limit=10), now=NOW)
    dispatch_due_deliveries(now=NOW + dt.timedelta(hours=1))
    assert requeue_deliveries(deliveries=Delivery.objects.filter(channel="email"), by="staff@example.com") == 1

    dispatch_due_deliveries()
    assert Delivery.objects.get(channel="email").status == Status.SENT
    assert len(mail.outbox) == 1


def test_a_late_outcome_never_overwrites_a_row_settled_by_someone_else(student):
    plan_session_reminder(student)
    claimed = claim_due_deliveries(now=NOW, limit=10)
    Delivery.objects.update(status=Status.UNKNOWN)  # the lease ran out meanwhile

    from notifications.services.dispatch import DispatchResult, send_claimed_deliveries

    send_claimed_deliveries(deliveries=claimed, now=NOW, result=DispatchResult())
    assert set(Delivery.objects.values_list("status", flat=True)) == {Status.UNKNOWN}


def test_a_batch_keeps_the_result_of_another_claim_that_took_over_one_of_its_rows(student, whatsapp_sent):
    from notifications.services.dispatch import DispatchResult, send_claimed_deliveries

    plan_session_reminder(student)
    claimed = claim_due_deliveries(now=NOW, limit=10)
    # The WhatsApp row's lease ran out, staff requeued it and another worker claimed it and sent it.
    taken = next(d for d in claimed if d.channel == "whatsapp")
    Delivery.objects.filter(pk=taken.pk).update(
        status=Status.SENT, claim_token=uuid.uuid4(), provider_message_id="SMother", rendered_text="theirs"
    )

    send_claimed_deliveries(deliveries=claimed, now=NOW, result=DispatchResult())

    taken.refresh_from_db()
    assert (taken.status, taken.provider_message_id, taken.rendered_text) == (Status.SENT, "SMother", "theirs")
    assert not taken.events.exists()  # this worker's late outcome left no history on their row
    email = Delivery.objects.get(channel="email")
    assert email.status == Status.SENT and email.provider_message_id and email.rendered_subject
    assert list(email.events.values_list("status", flat=True)) == [Status.SENT]


def test_a_row_claimed_again_meanwhile_is_left_to_the_new_claim(student):
    from notifications.services.dispatch import DispatchResult, send_claimed_deliveries

    plan_session_reminder(student)
    claimed = claim_due_deliveries(now=NOW, limit=10)
    # Another worker holds the email row under its own claim (still sending).
    email = next(d for d in claimed if d.channel == "email")
    other_claim = uuid.uuid4()
    Delivery.objects.filter(pk=email.pk).update(claim_token=other_claim)

    send_claimed_deliveries(deliveries=claimed, now=NOW, result=DispatchResult())

    email.refresh_from_db()
    assert (email.status, email.claim_token, email.provider_message_id) == (Status.SENDING, other_claim, "")
    assert Delivery.objects.get(channel="whatsapp").status == Status.SENT


class CountingWhatsApp(FlakyWhatsApp):
    """Notes, at each send, how many WhatsApp messages the ledger already records as sent."""

    seen: list = []

    def send(self, message):
        CountingWhatsApp.seen.append(Delivery.objects.filter(channel="whatsapp", status=Status.SENT).count())
        return SendResult.sent(f"SM{message.delivery_id}")


def test_outcomes_are_recorded_while_the_batch_is_still_sending_once_they_are_due(
    db, django_user_model, settings, monkeypatch
):
    from notifications.services.dispatch import OutcomeBuffer

    settings.WHATSAPP_BACKEND = f"{__name__}.CountingWhatsApp"
    # One request at a time: the backend reads the ledger as each message goes (from the worker's own
    # thread, which sees the test's uncommitted rows), between the outcomes being recorded.
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "DISPATCH_CONCURRENCY": {"email": 4, "whatsapp": 1}}
    monkeypatch.setattr(OutcomeBuffer, "MAX_SECONDS", 0)  # due at once: a slow batch
    CountingWhatsApp.seen = []
    for n in range(3):
        user = django_user_model.objects.create_user(
            email=f"w{n}@example.com", name=f"W {n}", phone=f"+9198765432{n:02d}", whatsapp_opt_in=True
        )
        plan_session_reminder(user)

    dispatch_due_deliveries(now=NOW)

    assert CountingWhatsApp.seen == [0, 1, 2]
    assert Delivery.objects.filter(status=Status.SENT).count() == 6


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_connections_planning_at_once_make_one_row_and_one_send(student, whatsapp_sent):
    def plan():
        with transaction.atomic():
            return plan_session_reminder(student)

    outcomes = run_at_once(plan, plan)

    assert not [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    assert sum(outcome.planned["email"] for outcome in outcomes) == 1
    assert Delivery.objects.filter(channel="email").count() == 1
    dispatch_due_deliveries(now=NOW)
    assert len(mail.outbox) == 1 and len(whatsapp_sent) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_once_send_each_delivery_once(db, django_user_model):
    users = [django_user_model.objects.create_user(email=f"s{i}@example.com", name=f"Student {i}") for i in range(60)]
    for user in users:
        plan_session_reminder(user)

    def work():
        return dispatch_due_deliveries(now=NOW, batch_size=7)

    outcomes = run_at_once(work, work)

    assert sum(result.sent for result in outcomes) == 60
    assert len(mail.outbox) == 60
    assert sorted(m.to[0] for m in mail.outbox) == sorted(u.email for u in users)
