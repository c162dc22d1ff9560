"""What run_reminders and the job log say of the students a planning job skipped, and why."""

import datetime as dt
import io

import pytest
from django.core.management import call_command

from automation.models import JobExecutionLog
from lms.tests.factories import CourseFactory, EnrollmentFactory, LiveSessionFactory, UserFactory

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 24, 4, 30, tzinfo=dt.UTC)  # 10:00 in Kolkata


@pytest.fixture
def course():
    return CourseFactory(title="Data Science Bootcamp")


@pytest.fixture
def student(course):
    user = UserFactory(name="Asha Verma", email="asha@example.com", phone="+919876543210", whatsapp_opt_in=True)
    EnrollmentFactory(student=user, course=course)
    return user


def session_at(course, delta, **kwargs):
    return LiveSessionFactory(course=course, scheduled_at=NOW + delta, **kwargs)


def test_students_skipped_for_whatsapp_are_counted_by_reason_in_the_command_and_the_job_log(course, student):
    UserFactory.create_batch(2, whatsapp_opt_in=False, phone="+919812345678")
    UserFactory(whatsapp_opt_in=True, phone="")
    for user in type(student).objects.exclude(pk=student.pk):
        EnrollmentFactory(student=user, course=course)
    session_at(course, dt.timedelta(hours=20))
    out = io.StringIO()

    call_command("run_reminders", "session_24h", "--now", NOW.isoformat(), stdout=out)

    row = next(line for line in out.getvalue().splitlines() if line.startswith("session_reminders_24h"))
    assert row.split()[2:5] == ["9", "-", "3"]  # 4 emails, 4 in-app, 1 WhatsApp; 3 skipped
    assert "skipped: whatsapp_not_opted_in 2, whatsapp_invalid_number 1" in out.getvalue()
    log = JobExecutionLog.objects.get(job_name="session_reminders_24h")
    assert log.metadata["skipped"] == {"whatsapp_not_opted_in": 2, "whatsapp_invalid_number": 1}

    # The next run plans nothing new and skips nobody again.
    call_command("run_reminders", "session_24h", "--now", NOW.isoformat(), stdout=io.StringIO())
    latest = JobExecutionLog.objects.filter(job_name="session_reminders_24h").latest("started_at")
    assert latest.metadata.get("skipped", {}) == {}
