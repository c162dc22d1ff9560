"""The staff console: holding, releasing and cancelling messages before they go; the dashboard and the outbox pages."""

import datetime as dt
import re

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.utils import timezone

from automation.outbox import upcoming
from lms import reminders
from lms.tests.factories import CourseFactory, EnrollmentFactory, LiveSessionFactory, StaffUserFactory, UserFactory
from notifications.api import cancel_messages, hold_messages, release_messages
from notifications.models import Delivery, DeliveryEvent, MessageEvent
from notifications.services.dispatch import dispatch_due_deliveries
from notifications.tests.factories import DeliveryFactory

pytestmark = pytest.mark.django_db
Status = Delivery.Status


@pytest.fixture
def course():
    return CourseFactory(title="Data Science Bootcamp")


@pytest.fixture
def students(course):
    people = [UserFactory(name=name, whatsapp_opt_in=True) for name in ("Asha Verma", "Ravi Kumar")]
    for person in people:
        EnrollmentFactory(student=person, course=course)
    return people


@pytest.fixture
def session(course, students):
    """A session 20 h away whose "tomorrow" reminders are planned (email and WhatsApp to two students)."""
    session = LiveSessionFactory(
        course=course, title="Pandas Basics", scheduled_at=timezone.now() + dt.timedelta(hours=20)
    )
    reminders.plan_session_reminders_24h(now=timezone.now())
    return session


def rows_of(session):
    return Delivery.objects.filter(event__subject_type="lms.livesession", event__subject_id=session.pk)


def event_of(session):
    return MessageEvent.objects.get(subject_type="lms.livesession", subject_id=session.pk, kind="session_24h")


# --- Hold, release, cancel ------------------------------------------------------------------


def test_a_held_event_is_not_sent_stays_one_row_and_is_not_planned_again(session):
    event = event_of(session)
    assert rows_of(session).filter(status=Status.PENDING).count() == 4

    held = hold_messages(event_ids=[event.pk], reason="Teacher is ill", by="staff@example.com")
    dispatch_due_deliveries(now=timezone.now())
    planned_again = reminders.plan_session_reminders_24h(now=timezone.now())

    assert held == 4
    assert mail.outbox == []
    assert planned_again.planned["email"] == planned_again.planned["whatsapp"] == 0
    assert rows_of(session).count() == 4
    assert set(rows_of(session).values_list("status", flat=True)) == {Status.HELD}
    history = DeliveryEvent.objects.filter(delivery__in=rows_of(session))
    assert history.count() == 4
    assert {entry.detail for entry in history} == {"Held by staff@example.com: Teacher is ill"}


def test_a_released_event_goes_out_on_the_next_run(session):
    event = event_of(session)
    hold_messages(event_ids=[event.pk], reason="Checking the link")

    released = release_messages(event_ids=[event.pk], reason="Link fixed", by="staff@example.com")
    dispatch_due_deliveries(now=timezone.now())

    assert released == 4
    assert len(mail.outbox) == 2
    assert set(rows_of(session).values_list("status", flat=True)) == {Status.SENT}
    assert DeliveryEvent.objects.filter(detail="Released by staff@example.com: Link fixed").count() == 4


def test_a_row_of_a_held_event_planned_after_the_hold_is_held_by_the_gate(course, session):
    event = event_of(session)
    hold_messages(event_ids=[event.pk], reason="Teacher is ill")
    late = UserFactory(name="Meera Shah")
    EnrollmentFactory(student=late, course=course)

    reminders.plan_session_reminders_24h(now=timezone.now())
    assert rows_of(session).filter(recipient=late, status=Status.PENDING).count() == 1
    dispatch_due_deliveries(now=timezone.now())

    assert mail.outbox == []
    assert rows_of(session).filter(recipient=late).get().status == Status.HELD


def test_holding_everything_about_a_session_holds_its_later_reminders_too_until_released(session, students):
    held = hold_messages(subject=("lms.livesession", session.pk), reason="Teacher is ill", by="staff@example.com")
    soon = session.scheduled_at - dt.timedelta(minutes=10)
    reminders.plan_session_reminders_15min(now=soon)
    dispatch_due_deliveries(now=soon)

    assert held == 4
    assert mail.outbox == []
    later = rows_of(session).filter(event__kind="session_15min")
    assert later.count() == 4
    assert set(later.values_list("status", flat=True)) == {Status.HELD}
    assert DeliveryEvent.objects.filter(delivery__in=later, detail="held_by_staff").count() == 4

    assert release_messages(subject=("lms.livesession", session.pk), by="staff@example.com") == 8
    dispatch_due_deliveries(now=timezone.now())
    assert len(mail.outbox) == 4  # both kinds, by email, to both students (the test planned "soon" early)


def test_one_persons_messages_can_be_held_and_cancelled_with_a_reason(session, students):
    asha, ravi = students

    assert hold_messages(recipient_id=asha.pk, reason="Asked for a pause") == 2
    assert cancel_messages(recipient_id=asha.pk, reason="Left the course", by="staff@example.com") == 2
    dispatch_due_deliveries(now=timezone.now())

    assert set(rows_of(session).filter(recipient=asha).values_list("status", flat=True)) == {Status.CANCELLED}
    assert [message.to for message in mail.outbox] == [[ravi.email]]
    assert DeliveryEvent.objects.filter(delivery__recipient=asha, detail__startswith="Cancelled by").count() == 2


def test_a_hold_needs_a_reason_and_never_touches_a_message_already_sent(session):
    from django.core.exceptions import ValidationError

    event = event_of(session)
    sent = DeliveryFactory(sent=True)  # an event of its own (the factory's: a session's 24 h reminder too)
    with pytest.raises(ValidationError):
        hold_messages(event_ids=[event.pk], reason="  ")
    assert hold_messages(event_ids=[sent.event_id], reason="too late") == 0
    sent.refresh_from_db()
    assert sent.status == Status.SENT


# --- The outbox: the jobs' own dry runs -----------------------------------------------------


def test_the_outbox_shows_what_the_jobs_will_plan_tomorrow_with_recipients_channels_and_languages(course, students):
    later = LiveSessionFactory(course=course, scheduled_at=timezone.now() + dt.timedelta(hours=30))
    now = timezone.now()

    items = {item.kind: item for item in upcoming(now=now) if f":{later.pk}@" in item.event}

    tomorrow = items["session_24h"]
    assert tomorrow.recipients == 2
    assert dict(tomorrow.channels) == {"email": 2, "whatsapp": 2}
    assert dict(tomorrow.languages) == {"en": 4}
    # It becomes 24 h away in 6 h: the dry run at that step (hourly) is the first to plan it.
    assert dt.timedelta(hours=6) <= tomorrow.when - now <= dt.timedelta(hours=7)
    assert "session_15min" not in items  # 15 minutes before the start is beyond the next 24 h
    assert not Delivery.objects.exists()  # a dry run plans nothing


def test_a_session_not_planned_yet_can_be_held_from_the_outbox_and_stays_held_once_planned(course, students):
    later = LiveSessionFactory(course=course, title="SQL Joins", scheduled_at=timezone.now() + dt.timedelta(hours=30))
    item = next(item for item in upcoming(now=timezone.now()) if item.kind == "session_24h")
    assert (item.subject, item.about, item.subject_held) == (f"lms.livesession:{later.pk}", str(later), False)

    hold_messages(subject=("lms.livesession", later.pk), reason="Room not booked", by="staff@example.com")
    assert next(i for i in upcoming(now=timezone.now()) if i.kind == "session_24h").subject_held
    # Six hours on, the job plans it as always; the gate holds it instead of sending it.
    moment = timezone.now() + dt.timedelta(hours=7)
    reminders.plan_session_reminders_24h(now=moment)
    dispatch_due_deliveries(now=moment)

    assert mail.outbox == []
    assert set(rows_of(later).values_list("status", flat=True)) == {Status.HELD}
    assert rows_of(later).count() == 4


# --- Pages ----------------------------------------------------------------------------------


def staff_with(*codenames):
    staff = StaffUserFactory()
    staff.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return staff


def test_the_dashboard_reads_last_weeks_figures_per_channel_with_charts_and_no_script(client, session):
    DeliveryFactory(sent=True, created_at=timezone.now() - dt.timedelta(days=2))
    DeliveryFactory(whatsapp=True, sent=True, cost="0.7846", created_at=timezone.now() - dt.timedelta(days=3))
    DeliveryFactory(status=Status.FAILED, created_at=timezone.now() - dt.timedelta(days=3))
    # Email in the last 7 days: the session's 2 planned reminders, 1 sent, 1 failed.
    client.force_login(staff_with("view_delivery"))

    page = client.get("/admin/console/?days=90").content.decode()

    assert page.count('class="pygal-chart"') == 5
    assert "<script" not in page.split('id="content-main"')[1]
    assert "<style" not in page
    email = re.search(r'data-testid="last-week-email">(.*?)</tr>', page, re.S).group(1)
    assert re.findall(r'data-figure="(\w+)">([^<]*)<', email)[:2] == [("planned", "4"), ("sent", "1")]
    assert 'data-figure="failed">1<' in email
    whatsapp = re.search(r'data-testid="last-week-whatsapp">(.*?)</tr>', page, re.S).group(1)
    assert 'data-figure="cost">₹0.78<' in whatsapp
    assert 'data-testid="period-current">last 90 days<' in page


def test_the_console_needs_the_delivery_permissions(client, session):
    client.force_login(staff_with())
    assert client.get("/admin/console/").status_code == 403
    assert client.get("/admin/console/outbox/").status_code == 403
    viewer = staff_with("view_delivery")
    client.force_login(viewer)
    assert client.get("/admin/console/outbox/").status_code == 200
    event = event_of(session)
    answer = client.post("/admin/console/outbox/", {"event": event.pk, "action": "hold", "reason": "no"})
    assert answer.status_code == 403
    assert not rows_of(session).filter(status=Status.HELD).exists()


def test_staff_hold_one_sessions_reminders_from_the_outbox_and_see_them_held(client, session):
    client.force_login(staff_with("view_delivery", "change_delivery"))
    event = event_of(session)
    page = client.get("/admin/console/outbox/").content.decode()
    assert f'data-testid="planned-{event.key}" data-status="pending"' in page
    assert not rows_of(session).filter(status=Status.HELD).exists()  # GET changes nothing

    answer = client.post("/admin/console/outbox/", {"event": event.pk, "action": "hold", "reason": "Teacher is ill"})
    page = client.get(answer.url).content.decode()

    assert answer.status_code == 302
    assert "4 messages held." in page
    assert f'data-testid="planned-{event.key}" data-status="held"' in page
    assert set(rows_of(session).values_list("status", flat=True)) == {Status.HELD}


def test_the_console_speaks_hindi_to_staff_who_read_hindi(client, session):
    staff = staff_with("view_delivery", "change_delivery")
    staff.language = "hi"
    staff.save(update_fields=["language"])
    client.force_login(staff)

    dashboard = client.get("/admin/console/").content.decode()
    outbox = client.get("/admin/console/outbox/").content.decode()

    assert "प्रति दिन संदेश" in dashboard and "पिछले 30 दिन" in dashboard
    assert "कल का आउटबॉक्स" in outbox and "इससे जुड़ा सब कुछ रोकें (बाद के रिमाइंडर भी)" in outbox


def test_messages_held_by_staff_are_cancelled_when_the_domain_no_longer_wants_them(session):
    from notifications.api import cancel_for_subject

    hold_messages(subject=("lms.livesession", session.pk), reason="Teacher is ill")

    cancelled = cancel_for_subject(
        subject_type="lms.livesession", subject_id=session.pk, kinds=["session_24h"], reason="The session was dropped."
    )

    assert cancelled == 4
    assert set(rows_of(session).values_list("status", flat=True)) == {Status.CANCELLED}
