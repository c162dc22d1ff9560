"""Issue 30 through lms's own jobs: the 24-hour reminder the job plans at 02:00 local goes at 08:00;
the "starting soon" one for a class at 02:15 goes at 02:00."""

import datetime as dt
import zoneinfo

import pytest
from django.core import mail

from lms.reminders import plan_session_reminders_15min, plan_session_reminders_24h
from lms.tests.factories import EnrollmentFactory, LiveSessionFactory, UserFactory
from notifications.api import dispatch_due_deliveries

pytestmark = [pytest.mark.django_db, pytest.mark.attention]
IST = zoneinfo.ZoneInfo("Asia/Kolkata")


def ist(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=IST)


def test_the_24h_job_at_two_at_night_is_sent_at_eight_and_starting_soon_at_two():
    student = UserFactory(email="asha@example.com", timezone="Asia/Kolkata")
    session = LiveSessionFactory(scheduled_at=ist(25, 2), title="Night owls")
    EnrollmentFactory(student=student, course=session.course)

    plan_session_reminders_24h(now=ist(24, 2))
    dispatch_due_deliveries(now=ist(24, 2))
    assert mail.outbox == []
    dispatch_due_deliveries(now=ist(24, 7, 59))
    assert mail.outbox == []
    dispatch_due_deliveries(now=ist(24, 8))
    assert [message.to for message in mail.outbox] == [["asha@example.com"]]

    mail.outbox.clear()
    soon = LiveSessionFactory(course=session.course, scheduled_at=ist(26, 2, 15), title="Very late")
    plan_session_reminders_15min(now=ist(26, 2))
    dispatch_due_deliveries(now=ist(26, 2))
    assert len(mail.outbox) == 1 and soon.title in mail.outbox[0].subject
