"""The reminder rules: boundaries, late enrollees, rescheduling, catch-up, and the seed's formats."""

import datetime as dt
import re

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from lms import reminders
from lms.models import PlanningMark
from lms.services import mark_payment_paid, submit_assignment
from notifications.models import Delivery, Notification
from notifications.services.dispatch import dispatch_due_deliveries
from tests.concurrency import run_at_once

from .factories import (
    AssignmentFactory,
    CourseFactory,
    EnrollmentFactory,
    LiveSessionFactory,
    PaymentFactory,
    RecordingFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 24, 4, 30, tzinfo=dt.UTC)  # 10:00 in Kolkata
Status = Delivery.Status


@pytest.fixture
def course():
    return CourseFactory(title="Data Science Bootcamp")


@pytest.fixture
def student(course):
    user = UserFactory(
        name="Asha Verma",
        email="asha@example.com",
        phone="+919876543210",
        whatsapp_opt_in=True,
        timezone="Asia/Kolkata",
        locale="en_IN",
    )
    EnrollmentFactory(student=user, course=course)
    return user


def session_at(course, delta, **kwargs):
    return LiveSessionFactory(course=course, scheduled_at=NOW + delta, **kwargs)


def kinds_for(user):
    return sorted(Delivery.objects.filter(recipient=user).values_list("event__kind", "channel"))


# --- 24 hours -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "planned"),
    [
        (dt.timedelta(hours=24), True),
        (dt.timedelta(hours=24, seconds=1), False),
        (dt.timedelta(hours=1, seconds=1), True),
        (dt.timedelta(hours=1), False),  # the 15-minute reminder covers the last hour
        (dt.timedelta(minutes=30), False),
        (-dt.timedelta(minutes=5), False),
    ],
)
def test_24h_reminder_boundaries(course, student, delta, planned):
    session_at(course, delta)
    result = reminders.plan_session_reminders_24h(now=NOW)
    assert (result.total > 0) is planned
    if planned:
        assert kinds_for(student) == [("session_24h", "email"), ("session_24h", "whatsapp")]
        assert Notification.objects.filter(user=student, kind="session_24h").count() == 1


def test_24h_reminder_email_reads_as_the_seed_format(course, student):
    session_at(course, dt.timedelta(hours=20), title="Intro to Pandas", meeting_url="https://meet.example.com/pandas")
    reminders.plan_session_reminders_24h(now=NOW)
    dispatch_due_deliveries(now=NOW)

    message = mail.outbox[0]
    assert message.subject == "Starts Tomorrow: Intro to Pandas"
    assert message.body.startswith('Hi Asha,\n\nYour session "Intro to Pandas" starts tomorrow!')
    # 04:30 UTC + 20 h = 00:30 UTC next day = 06:00 in Kolkata.
    assert "Scheduled Time: Wed, 25 Nov 2026, 6:00 am IST" in message.body
    # The meeting link goes out as the student's tracked join link (lms.session_links).
    join = re.search(r"Join Meeting: (\S+)", message.body).group(1)
    assert join.startswith(f"{settings.SITE_URL}/s/join/")
    assert "See you there!" in message.body
    html = message.alternatives[0].content
    assert f'href="{join}"' in html and "Join Meeting" in html
    assert "I'll be there: " in message.body and "Can't make it: " in message.body


def test_24h_reminder_says_today_when_the_session_is_today_for_the_student(course):
    # 04:30 UTC is 13:30 in Tokyo; a session at 14:00 UTC is 23:00 there, the same day.
    tokyo = UserFactory(name="Ken Sato", timezone="Asia/Tokyo", locale="en_US", whatsapp_opt_in=False)
    EnrollmentFactory(student=tokyo, course=course)
    session_at(course, dt.timedelta(hours=9, minutes=30), title="Statistics")
    reminders.plan_session_reminders_24h(now=NOW)
    dispatch_due_deliveries(now=NOW)

    message = mail.outbox[0]
    assert message.subject == "Starts Today: Statistics"
    assert "starts today!" in message.body
    assert "Tue, 24 Nov 2026, 11:00 PM JST" in message.body


def test_student_enrolled_after_the_24h_reminder_went_out_still_gets_it(course, student):
    session_at(course, dt.timedelta(hours=20))
    reminders.plan_session_reminders_24h(now=NOW)
    dispatch_due_deliveries(now=NOW)
    late = UserFactory(whatsapp_opt_in=False)
    EnrollmentFactory(student=late, course=course)

    result = reminders.plan_session_reminders_24h(now=NOW + dt.timedelta(minutes=10))
    dispatch_due_deliveries(now=NOW + dt.timedelta(minutes=10))

    assert result.planned["email"] == 1
    assert [m.to for m in mail.outbox] == [["asha@example.com"], [late.email]]


def test_rescheduling_a_session_rearms_its_reminders_and_drops_the_old_ones(course, student):
    session = session_at(course, dt.timedelta(hours=20), title="Moved Session")
    reminders.plan_session_reminders_24h(now=NOW)  # planned, not yet sent
    session.scheduled_at = NOW + dt.timedelta(hours=22)
    session.save()

    reminders.plan_session_reminders_24h(now=NOW)
    dispatch_due_deliveries(now=NOW)

    emails = Delivery.objects.filter(channel="email").order_by("id")
    assert [d.status for d in emails] == [Status.CANCELLED, Status.SENT]
    assert len(mail.outbox) == 1
    assert "8:00 am IST" in mail.outbox[0].body  # the new time: 02:30 UTC


def test_a_cancelled_session_sends_no_reminder(course, student):
    session = session_at(course, dt.timedelta(hours=20))
    reminders.plan_session_reminders_24h(now=NOW)
    session.is_cancelled = True
    session.save()
    dispatch_due_deliveries(now=NOW)
    assert mail.outbox == []
    assert reminders.plan_session_reminders_24h(now=NOW).total == 0


def test_inactive_enrollments_get_no_reminders(course):
    EnrollmentFactory(course=course, is_active=False)
    session_at(course, dt.timedelta(hours=20))
    assert reminders.plan_session_reminders_24h(now=NOW).total == 0


# --- 15 minutes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "planned"),
    [
        (dt.timedelta(minutes=15), True),
        (dt.timedelta(minutes=15, seconds=1), False),
        (dt.timedelta(seconds=30), True),
        (dt.timedelta(0), False),  # starting now: too late
        (-dt.timedelta(minutes=1), False),
    ],
)
def test_15min_reminder_boundaries(course, student, delta, planned):
    session_at(course, delta)
    assert (reminders.plan_session_reminders_15min(now=NOW).total > 0) is planned


def test_15min_reminder_reads_urgent_and_is_never_sent_after_the_start(course, student, whatsapp_sent):
    session_at(course, dt.timedelta(minutes=12), title="Live Q&A")
    reminders.plan_session_reminders_15min(now=NOW)
    # A backlog holds it up past the start: it expires instead of going out late.
    dispatch_due_deliveries(now=NOW + dt.timedelta(minutes=13))
    assert mail.outbox == [] and whatsapp_sent == []
    assert set(Delivery.objects.values_list("status", flat=True)) == {Status.EXPIRED}

    Delivery.objects.all().delete()
    reminders.plan_session_reminders_15min(now=NOW)
    dispatch_due_deliveries(now=NOW)
    assert mail.outbox[0].subject == "Starting Soon: Live Q&A"
    assert "starts in 12 minutes!" in mail.outbox[0].body
    assert "Join Now" in mail.outbox[0].alternatives[0].content


# --- Recordings ------------------------------------------------------------------------------


def test_recording_is_announced_once_to_every_enrolled_student_when_visible(course, student):
    other = UserFactory()
    EnrollmentFactory(student=other, course=course)
    session = session_at(course, -dt.timedelta(hours=3), title="Regression")
    recording = RecordingFactory(session=session, visible_to_students=False, created_at=NOW - dt.timedelta(hours=1))
    assert reminders.plan_recording_notifications(now=NOW).total == 0

    recording.visible_to_students = True
    recording.published_at = NOW
    recording.save()
    reminders.plan_recording_notifications(now=NOW)
    reminders.plan_recording_notifications(now=NOW + dt.timedelta(minutes=30))
    dispatch_due_deliveries(now=NOW)

    assert sorted(m.to[0] for m in mail.outbox) == sorted([student.email, other.email])
    message = mail.outbox[0]
    assert message.subject == "Recording Available: Regression"
    assert 'The recording for "Regression" is now available!' in message.body
    assert recording.url in message.body
    assert "https://school.example/" in message.body  # the dashboard link
    assert not Delivery.objects.filter(channel="whatsapp").exists()


# --- Assignments ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "planned"),
    [
        (dt.timedelta(hours=48), True),
        (dt.timedelta(hours=48, seconds=1), False),
        (dt.timedelta(minutes=1), True),
        (dt.timedelta(0), False),
        (-dt.timedelta(hours=1), False),
    ],
)
def test_assignment_reminder_boundaries(course, student, delta, planned):
    AssignmentFactory(course=course, deadline=NOW + delta)
    assert (reminders.plan_assignment_reminders(now=NOW).total > 0) is planned


def test_assignment_reminders_go_only_to_students_who_have_not_submitted(course, student):
    done = UserFactory()
    EnrollmentFactory(student=done, course=course)
    assignment = AssignmentFactory(course=course, title="Essay 1", deadline=NOW + dt.timedelta(hours=30))
    submit_assignment(assignment=assignment, student=done, text="My essay")

    reminders.plan_assignment_reminders(now=NOW)
    dispatch_due_deliveries(now=NOW)

    assert [m.to for m in mail.outbox] == [[student.email]]
    message = mail.outbox[0]
    assert message.subject == "Assignment Due Soon: Essay 1"
    assert 'Reminder: Your assignment "Essay 1" is due soon!' in message.body
    assert "Deadline: Wed, 25 Nov 2026, 4:00 pm IST" in message.body
    assert f"https://school.example/assignments/{assignment.pk}/" in message.body


def test_a_student_who_submits_after_planning_is_not_reminded(course, student):
    assignment = AssignmentFactory(course=course, deadline=NOW + dt.timedelta(hours=30))
    reminders.plan_assignment_reminders(now=NOW)
    submit_assignment(assignment=assignment, student=student, text="Done early")
    dispatch_due_deliveries(now=NOW)
    assert mail.outbox == []
    assert Delivery.objects.get(channel="email").status == Status.CANCELLED


# --- Payments -----------------------------------------------------------------------------------


def test_payment_reminder_after_three_days_with_the_amount_in_the_students_locale(student):
    PaymentFactory(
        student=student,
        amount="5000",
        currency="INR",
        course__title="Data Science Bootcamp",
        created_at=NOW - dt.timedelta(days=3),
    )
    PaymentFactory(student=student, created_at=NOW - dt.timedelta(days=2, hours=23))  # too recent

    reminders.plan_payment_reminders(now=NOW)
    dispatch_due_deliveries(now=NOW)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    # The subject says how much and for what, as the in-app title does.
    assert message.subject == "Payment reminder: ₹5,000 for Data Science Bootcamp"
    assert Notification.objects.get(kind="payment_reminder").title == message.subject
    assert message.body.startswith("Hi Asha,\n\nThis is a friendly reminder about your pending payment for Data")
    assert "Amount: ₹5,000" in message.body
    assert "If you've already paid, please ignore this message." in message.body


def test_large_amounts_use_indian_grouping(student):
    PaymentFactory(student=student, amount="100000", currency="INR", created_at=NOW - dt.timedelta(days=4))
    reminders.plan_payment_reminders(now=NOW)
    assert Delivery.objects.filter(channel="email").get().context["amount"] == "₹1,00,000"


def test_each_payment_reminder_in_app_names_its_own_payment_and_link(student):
    for description in ("Data Science fee", "Workshop fee", ""):
        PaymentFactory(
            student=student,
            amount="5000",
            currency="INR",
            description=description,
            payment_url=f"https://pay.example/{description[:4]}" if description else "",
            created_at=NOW - dt.timedelta(days=3),
        )

    reminders.plan_payment_reminders(now=NOW)

    inapp = sorted(Notification.objects.filter(user=student).values_list("message", "link"))
    assert inapp == [
        ("₹5,000 for Data Science fee is waiting to be paid.", "https://pay.example/Data"),
        ("₹5,000 for Workshop fee is waiting to be paid.", "https://pay.example/Work"),
        ("₹5,000 is waiting to be paid.", reminders.site_link("lms:dashboard")),
    ]
    emails = Delivery.objects.filter(channel="email")
    assert sorted(d.context["payment_url"] for d in emails) == sorted(link for _, link in inapp)


def test_payment_reminders_stop_once_paid(student, settings):
    settings.PAYMENT_REMINDER_DAYS = [3, 7]
    payment = PaymentFactory(student=student, created_at=NOW - dt.timedelta(days=3))
    reminders.plan_payment_reminders(now=NOW)
    mark_payment_paid(payment=payment)
    dispatch_due_deliveries(now=NOW)
    assert mail.outbox == []

    reminders.plan_payment_reminders(now=NOW + dt.timedelta(days=5))
    assert not Delivery.objects.filter(status=Status.PENDING).exists()


def test_payment_cadence_reminds_once_per_step_and_only_the_latest_after_downtime(student, settings):
    settings.PAYMENT_REMINDER_DAYS = [3, 7, 14]
    payment = PaymentFactory(student=student, created_at=NOW)
    stale = PaymentFactory(student=student, created_at=NOW - dt.timedelta(days=20))

    for day in (3, 4, 7, 8, 14):
        reminders.plan_payment_reminders(now=NOW + dt.timedelta(days=day))
    keys = sorted(
        Delivery.objects.filter(channel="email", event__subject_id=payment.pk).values_list("event__key", flat=True)
    )
    assert keys == [
        f"payment_reminder:{payment.pk}:d14",
        f"payment_reminder:{payment.pk}:d3",
        f"payment_reminder:{payment.pk}:d7",
    ]
    assert Delivery.objects.filter(channel="email", event__subject_id=stale.pk).count() == 1


# --- Catch-up, scale ------------------------------------------------------------------------------


def test_one_run_after_a_three_hour_outage_sends_every_still_valid_reminder_once_and_no_stale_one(
    course, student, whatsapp_sent
):
    outage_end = NOW + dt.timedelta(hours=3)
    session_at(course, dt.timedelta(hours=3, minutes=10), title="Soon")  # 10 min after the outage: 15-min only
    session_at(course, dt.timedelta(hours=2), title="Missed")  # started during the outage: nothing
    session_at(course, dt.timedelta(hours=20), title="Tomorrow")  # 24-h reminder still valid
    AssignmentFactory(course=course, title="Due", deadline=NOW + dt.timedelta(hours=30))
    AssignmentFactory(course=course, title="Passed", deadline=NOW + dt.timedelta(hours=2))

    for rule in (
        reminders.plan_session_reminders_24h,
        reminders.plan_session_reminders_15min,
        reminders.plan_assignment_reminders,
    ):
        rule(now=outage_end)
        rule(now=outage_end)
    dispatch_due_deliveries(now=outage_end)

    subjects = sorted(m.subject for m in mail.outbox)
    assert subjects == ["Assignment Due Soon: Due", "Starting Soon: Soon", "Starts Tomorrow: Tomorrow"]
    assert len(whatsapp_sent) == 2


def test_planning_queries_do_not_grow_with_recipients(course):
    def queries_for(students: int) -> int:
        Delivery.objects.all().delete()
        Notification.objects.all().delete()
        PlanningMark.objects.all().delete()  # a full run each time (an incremental one: test_incremental_planning)
        for _ in range(students - course.enrollments.count()):
            EnrollmentFactory(course=course)
        with CaptureQueriesContext(connection) as captured:
            result = reminders.plan_session_reminders_24h(now=NOW)
        assert result.planned["email"] == students
        return len(captured)

    session_at(course, dt.timedelta(hours=20))
    assert queries_for(10) == queries_for(1000)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_connections_planning_a_session_at_once_make_each_students_reminder_once(course):
    for _ in range(30):
        EnrollmentFactory(course=course, student__whatsapp_opt_in=True)
    session_at(course, dt.timedelta(hours=20))

    def plan():
        return reminders.plan_session_reminders_24h(now=NOW)  # no job lock: the ledger decides

    results = run_at_once(plan, plan)

    assert not [result for result in results if isinstance(result, Exception)]
    assert sum(result.planned["email"] for result in results) == 30
    assert Delivery.objects.filter(channel="email").count() == 30
    assert Delivery.objects.filter(channel="whatsapp").count() == 30
    assert Notification.objects.count() == 30
