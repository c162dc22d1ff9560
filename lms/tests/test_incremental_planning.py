"""Incremental planning (lms.incremental): a scheduled run plans what changed since the last one, and
what entered its window since; downtime and the periodic full sweep still plan everything."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from lms import reminders
from lms.models import Enrollment, LiveSession, PlanningMark, User
from lms.services import mark_payment_paid, publish_recording
from notifications.models import Delivery

from .factories import (
    CourseFactory,
    EnrollmentFactory,
    LiveSessionFactory,
    PaymentFactory,
    RecordingFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
STEP = dt.timedelta(minutes=10)


@pytest.fixture
def now():
    return timezone.now().replace(microsecond=0)


@pytest.fixture
def course():
    return CourseFactory()


def planned(kind: str, user=None) -> int:
    rows = Delivery.objects.filter(event__kind=kind, channel="email")
    return rows.filter(recipient=user).count() if user is not None else rows.count()


def mark(rule: str) -> PlanningMark:
    return PlanningMark.objects.get(rule=rule)


def age(now, *models) -> None:
    """Rows made before the first run's margin: as a database whose rows were there long before."""
    for model in models:
        model.objects.update(updated_at=now - dt.timedelta(days=1))


def statements_on(captured, *tables: str) -> list[str]:
    return [query["sql"] for query in captured.captured_queries if any(table in query["sql"] for table in tables)]


def test_a_run_after_nothing_changed_plans_nothing_and_reads_no_audience(course, now):
    for _ in range(5):
        EnrollmentFactory(course=course)
    LiveSessionFactory(course=course, scheduled_at=now + dt.timedelta(hours=20))
    age(now, Enrollment, LiveSession, User)
    PlanningMark.objects.all().delete()
    first = reminders.plan_session_reminders_24h(now=now)
    assert first.planned["email"] == 5
    PlanningMark.objects.filter(rule="session_reminders_24h").update(started_at=now - dt.timedelta(hours=1))

    with CaptureQueriesContext(connection) as captured:
        again = reminders.plan_session_reminders_24h(now=now + STEP)
    assert again.total == 0
    assert mark("session_reminders_24h").runs_since_sweep == 1  # incremental, not a sweep
    # The sessions entering the window or changed are read (none), one index probe finds no changed
    # enrollment: no audience is read, the ledger is not touched.
    assert not statements_on(captured, "notifications_delivery", "notifications_notification")
    assert len(statements_on(captured, "lms_enrollment")) == 1
    assert len(captured) <= 10


def test_a_new_enrollment_between_runs_is_planned_by_the_next_incremental_run(course, now):
    EnrollmentFactory(course=course)
    LiveSessionFactory(course=course, scheduled_at=now + dt.timedelta(hours=20))
    assert reminders.plan_session_reminders_24h(now=now).planned["email"] == 1
    late = EnrollmentFactory(course=course).student

    result = reminders.plan_session_reminders_24h(now=now + STEP)
    assert mark("session_reminders_24h").runs_since_sweep == 1
    assert result.planned["email"] == 1
    assert planned("session_24h", late) == 1


def test_a_re_activated_enrollment_by_a_bulk_update_is_planned_next_run(course, now):
    student = EnrollmentFactory(course=course, is_active=False).student
    LiveSessionFactory(course=course, scheduled_at=now + dt.timedelta(hours=20))
    reminders.plan_session_reminders_24h(now=now)
    Enrollment.objects.filter(student=student).update(is_active=True)  # moves updated_at too

    reminders.plan_session_reminders_24h(now=now + STEP)
    assert mark("session_reminders_24h").runs_since_sweep == 1
    assert planned("session_24h", student) == 1


def test_an_account_re_activated_or_given_whatsapp_consent_is_planned_next_run(course, now):
    """No enrollment changed, only the accounts: the next run (not the next sweep) plans for them."""
    away = EnrollmentFactory(course=course, student__is_active=False).student
    quiet = EnrollmentFactory(course=course, student__phone="+919876543210", student__whatsapp_opt_in=False).student
    LiveSessionFactory(course=course, scheduled_at=now + dt.timedelta(hours=20))
    age(now, Enrollment, LiveSession, User)
    reminders.plan_session_reminders_24h(now=now)
    PlanningMark.objects.filter(rule="session_reminders_24h").update(started_at=now - dt.timedelta(hours=1))
    assert planned("session_24h", away) == 0
    assert not Delivery.objects.filter(recipient=quiet, channel="whatsapp").exists()

    away.is_active = True
    away.save(update_fields=["is_active"])
    User.objects.filter(pk=quiet.pk).update(whatsapp_opt_in=True)  # a bulk update moves updated_at too

    reminders.plan_session_reminders_24h(now=now + STEP)
    assert mark("session_reminders_24h").runs_since_sweep == 1
    assert planned("session_24h", away) == 1
    assert Delivery.objects.filter(recipient=quiet, channel="whatsapp", event__kind="session_24h").count() == 1


def test_a_payment_of_a_re_activated_account_is_planned_next_run(now):
    payment = PaymentFactory(created_at=now - dt.timedelta(days=4), student__is_active=False)
    age(now, type(payment), User)
    reminders.plan_payment_reminders(now=now)
    PlanningMark.objects.filter(rule="payment_reminders").update(started_at=now - dt.timedelta(hours=1))
    assert planned("payment_reminder") == 0

    User.objects.filter(pk=payment.student_id).update(is_active=True)
    reminders.plan_payment_reminders(now=now + STEP)
    assert mark("payment_reminders").runs_since_sweep == 1
    assert planned("payment_reminder", payment.student) == 1


def test_a_moved_session_is_planned_at_its_new_time_by_the_next_incremental_run(course, now):
    student = EnrollmentFactory(course=course).student
    session = LiveSessionFactory(course=course, scheduled_at=now + dt.timedelta(hours=30))  # not in the window yet
    reminders.plan_session_reminders_24h(now=now)
    assert planned("session_24h") == 0
    session.scheduled_at = now + dt.timedelta(hours=5)
    session.save()

    reminders.plan_session_reminders_24h(now=now + STEP)
    assert mark("session_reminders_24h").runs_since_sweep == 1
    assert planned("session_24h", student) == 1


def test_a_session_entering_the_window_is_planned_without_any_change(course, now):
    student = EnrollmentFactory(course=course).student
    LiveSessionFactory(course=course, scheduled_at=now + dt.timedelta(hours=24, minutes=5))
    age(now, Enrollment, LiveSession, User)
    reminders.plan_session_reminders_24h(now=now)
    assert planned("session_24h") == 0
    PlanningMark.objects.filter(rule="session_reminders_24h").update(started_at=now - dt.timedelta(hours=1))

    reminders.plan_session_reminders_24h(now=now + STEP)  # the start is now within 24 h
    assert mark("session_reminders_24h").runs_since_sweep == 1
    assert planned("session_24h", student) == 1


def test_a_recording_published_between_runs_is_planned_by_the_next_incremental_run(course, now):
    student = EnrollmentFactory(course=course).student
    session = LiveSessionFactory(course=course, scheduled_at=now - dt.timedelta(hours=3))
    recording = RecordingFactory(session=session, visible_to_students=False)
    reminders.plan_recording_notifications(now=now)
    assert Delivery.objects.count() == 0
    publish_recording(recording=recording, now=now)

    reminders.plan_recording_notifications(now=now + STEP)
    assert mark("recording_notifications").runs_since_sweep == 1
    assert Delivery.objects.filter(recipient=student, event__kind="recording_available", channel="email").count() == 1


def test_payments_new_or_paid_between_runs_are_seen_by_the_next_incremental_run(now):
    reminders.plan_payment_reminders(now=now)
    owing = PaymentFactory(created_at=now - dt.timedelta(days=4))  # recorded late, pending for 4 days
    paid = PaymentFactory(created_at=now - dt.timedelta(days=4))
    mark_payment_paid(payment=paid, now=now)

    reminders.plan_payment_reminders(now=now + STEP)
    assert mark("payment_reminders").runs_since_sweep == 1
    assert planned("payment_reminder", owing.student) == 1
    assert planned("payment_reminder", paid.student) == 0


def test_a_payment_reaching_its_day_is_planned_without_any_change(now):
    payment = PaymentFactory(created_at=now - dt.timedelta(days=3) + dt.timedelta(minutes=5))
    reminders.plan_payment_reminders(now=now)
    assert planned("payment_reminder") == 0
    age(now, type(payment), User)
    PlanningMark.objects.filter(rule="payment_reminders").update(started_at=now - dt.timedelta(hours=1))

    reminders.plan_payment_reminders(now=now + STEP)
    assert mark("payment_reminders").runs_since_sweep == 1
    assert planned("payment_reminder", payment.student) == 1


def raw_reactivate(enrollment) -> None:
    """A write that bypasses the change timestamps (SQL by hand)."""
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Enrollment._meta.db_table} SET is_active = %s WHERE id = %s", [True, enrollment.pk])


@pytest.fixture
def hidden_change(course, now):
    """A first run, then an enrollment re-activated by raw SQL its timestamp does not show."""
    enrollment = EnrollmentFactory(course=course, is_active=False)
    LiveSessionFactory(course=course, scheduled_at=now + dt.timedelta(hours=20))
    age(now, Enrollment, LiveSession, User)
    reminders.plan_session_reminders_24h(now=now)
    PlanningMark.objects.filter(rule="session_reminders_24h").update(started_at=now - dt.timedelta(hours=1))
    raw_reactivate(enrollment)
    return enrollment.student


def test_the_full_sweep_catches_a_raw_sql_write_the_timestamps_miss(hidden_change, now, settings):
    settings.PLANNING_FULL_SWEEP_MINUTES = 60
    reminders.plan_session_reminders_24h(now=now + STEP)
    assert planned("session_24h", hidden_change) == 0  # incremental: nothing says it changed

    reminders.plan_session_reminders_24h(now=now + dt.timedelta(minutes=60))
    assert mark("session_reminders_24h").runs_since_sweep == 0  # a sweep
    assert planned("session_24h", hidden_change) == 1


def test_after_downtime_a_run_plans_everything(hidden_change, now):
    PlanningMark.objects.filter(rule="session_reminders_24h").update(
        planned_through=now - dt.timedelta(days=3), swept_through=now - dt.timedelta(days=3)
    )
    reminders.plan_session_reminders_24h(now=now + STEP)
    assert planned("session_24h", hidden_change) == 1


def test_with_no_sweep_interval_every_run_is_full(hidden_change, now, settings):
    settings.PLANNING_FULL_SWEEP_MINUTES = 0
    reminders.plan_session_reminders_24h(now=now + STEP)
    assert planned("session_24h", hidden_change) == 1


def test_a_dry_run_leaves_no_mark_and_plans_the_whole_window(course, now):
    EnrollmentFactory(course=course, student=UserFactory())
    LiveSessionFactory(course=course, scheduled_at=now + dt.timedelta(hours=20))
    result = reminders.plan_session_reminders_24h(now=now, dry_run=True)
    assert result.planned["email"] == 1
    assert not PlanningMark.objects.exists()
