"""Live sessions land in the students' calendars, and move there when the session moves.

Sent through a real SMTP server, so the invitation is checked as a mail client receives it.
"""

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import icalendar
import pytest
from django.urls import reverse
from django.utils import timezone

from lms.reminders import plan_session_reminders_24h
from lms.tests.factories import CourseFactory, EnrollmentFactory, LiveSessionFactory, UserFactory
from notifications.models import Delivery, Notification
from notifications.services.dispatch import dispatch_due_deliveries

pytestmark = pytest.mark.django_db


@pytest.fixture
def session():
    course = CourseFactory(title="Data Science Bootcamp")
    start = (timezone.now() + dt.timedelta(hours=20)).replace(microsecond=0)
    return LiveSessionFactory(course=course, title="Pandas in practice", scheduled_at=start, duration_minutes=90)


@pytest.fixture
def student(session):
    user = UserFactory(email="asha@example.com", name="Asha Verma")
    EnrollmentFactory(student=user, course=session.course)
    return user


def invitation(message) -> tuple[str, icalendar.Event]:
    """Return the calendar part's Content-Type and its event."""
    (part,) = [part for part in message.walk() if part.get_content_type() == "text/calendar"]
    calendar = icalendar.Calendar.from_ical(part.get_payload(decode=True))
    assert calendar["METHOD"] == "PUBLISH"
    (event,) = calendar.walk("VEVENT")
    return part["Content-Type"], event


def run_24h_job():
    result = plan_session_reminders_24h(now=timezone.now())
    dispatch_due_deliveries()
    return result


def move(admin_client, session, *, to: dt.datetime):
    url = reverse("admin:lms_livesession_change", args=[session.pk])
    response = admin_client.post(
        url,
        {
            "course": session.course.pk,
            "title": session.title,
            "scheduled_at_0": to.astimezone(timezone.get_current_timezone()).strftime("%Y-%m-%d"),
            "scheduled_at_1": to.astimezone(timezone.get_current_timezone()).strftime("%H:%M:%S"),
            "duration_minutes": session.duration_minutes,
            "meeting_url": session.meeting_url,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    session.refresh_from_db()


def test_the_24h_reminder_carries_an_invitation_and_a_google_calendar_link(smtp_mailbox, session, student):
    run_24h_job()
    (message,) = smtp_mailbox.received
    content_type, event = invitation(message)
    assert "method=PUBLISH" in content_type.replace('"', "")
    assert str(event["UID"]) == f"session-{session.pk}@school.example"
    assert event["SEQUENCE"] == 0
    assert event.decoded("DTSTART") == session.scheduled_at
    assert event.decoded("DTEND") == session.scheduled_at + dt.timedelta(minutes=90)
    assert str(event["SUMMARY"]) == "Pandas in practice"

    body = message.get_body(preferencelist=("plain",)).get_content()
    link = next(word for word in body.split() if word.startswith("https://calendar.google.com/"))
    query = parse_qs(urlsplit(link).query)
    start = session.scheduled_at.astimezone(dt.UTC)
    end = start + dt.timedelta(minutes=90)
    assert query["action"] == ["TEMPLATE"] and query["text"] == ["Pandas in practice"]
    assert query["dates"] == [f"{start:%Y%m%dT%H%M%SZ}/{end:%Y%m%dT%H%M%SZ}"]


def test_a_session_moved_further_out_sends_the_updated_invitation_to_those_told_the_old_time(
    smtp_mailbox, admin_client, session, student
):
    run_24h_job()
    late_joiner = UserFactory(email="late@example.com")
    EnrollmentFactory(student=late_joiner, course=session.course)  # enrolled after the reminder
    old_start = session.scheduled_at
    smtp_mailbox.received.clear()

    new_start = old_start + dt.timedelta(days=3)
    move(admin_client, session, to=new_start)
    assert session.sequence == 1 and session.scheduled_at == new_start

    run_24h_job()
    (message,) = smtp_mailbox.received
    assert message["To"] == student.email and message["Subject"] == "New time: Pandas in practice"
    _, event = invitation(message)
    assert str(event["UID"]) == f"session-{session.pk}@school.example"  # the same event, replaced
    assert event["SEQUENCE"] == 1
    assert event.decoded("DTSTART") == new_start
    note = Notification.objects.get(user=student, kind="session_moved")
    assert "has moved" in note.message

    run_24h_job()  # again: nothing twice
    assert len(smtp_mailbox.received) == 1
    assert not Delivery.objects.filter(event__kind="session_moved", recipient=late_joiner).exists()


def test_a_session_moved_within_the_day_sends_a_new_reminder_with_the_next_sequence(
    smtp_mailbox, admin_client, session, student
):
    run_24h_job()
    smtp_mailbox.received.clear()
    move(admin_client, session, to=session.scheduled_at + dt.timedelta(hours=2))

    run_24h_job()
    (message,) = smtp_mailbox.received
    assert message["Subject"].startswith("Starts")
    _, event = invitation(message)
    assert event["SEQUENCE"] == 1 and event.decoded("DTSTART") == session.scheduled_at
    assert not Delivery.objects.filter(event__kind="session_moved").exists()


def test_editing_only_the_title_keeps_the_sequence(admin_client, session):
    url = reverse("admin:lms_livesession_change", args=[session.pk])
    page_time = session.scheduled_at.astimezone(timezone.get_current_timezone())
    admin_client.post(
        url,
        {
            "course": session.course.pk,
            "title": "Pandas, revised",
            "scheduled_at_0": page_time.strftime("%Y-%m-%d"),
            "scheduled_at_1": page_time.strftime("%H:%M:%S"),
            "duration_minutes": session.duration_minutes,
            "meeting_url": session.meeting_url,
        },
    )
    session.refresh_from_db()
    assert (session.title, session.sequence) == ("Pandas, revised", 0)
