"""Every message kind ships in Hindi on every channel it uses, says what it means (the 24-hour reminder
says tomorrow), and a Hindi student gets Hindi email, WhatsApp and in-app for each of them."""

import datetime as dt
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone, translation

from leads.onboarding import approve_cta_submission
from leads.tests.factories import CTASubmissionFactory
from lms import reminders
from lms.accounts import request_set_password_link
from lms.messages import session_day_words
from lms.tests.factories import CourseFactory, EnrollmentFactory, LiveSessionFactory, StaffUserFactory, UserFactory
from notifications.channels.whatsapp import outbox as whatsapp_outbox
from notifications.kinds import INAPP, all_kinds
from notifications.markers import render_relative_times
from notifications.models import Channel, Notification
from notifications.rendering import REDACTED, render_email, render_inapp, render_whatsapp
from notifications.services.dispatch import dispatch_due_deliveries
from tests.hindi import build_student_world, english_words

pytestmark = pytest.mark.django_db
DEVANAGARI = re.compile(r"[\u0900-\u097F]")
TEMPLATES = Path(settings.BASE_DIR) / "templates"
NOW = dt.datetime(2026, 11, 24, 4, 30, tzinfo=dt.UTC)  # 10:00 in Kolkata, a Tuesday
FILES = {Channel.EMAIL: ("subject.txt", "body.txt", "body.html"), Channel.WHATSAPP: ("whatsapp.txt",)}
FILES[INAPP] = ("subject.txt", "inapp.txt")

PLACEHOLDER = re.compile(r"\[[a-z_]+\]")


@pytest.mark.parametrize("kind", all_kinds(), ids=lambda kind: kind.name)
def test_every_kind_ships_every_file_of_every_channel_in_hindi(kind):
    folder = TEMPLATES / kind.template_dir
    english = {path.name for path in folder.iterdir() if path.is_file()}
    needed = {name for channel in kind.channels for name in FILES[channel]}
    assert needed <= english, f"{kind.name}: English files missing"
    hindi = {path.name for path in (folder / "hi").glob("*") if path.is_file()}
    assert english <= hindi, f"{kind.name}: no Hindi for {sorted(english - hindi)}"


def sample(kind) -> tuple[dict, tuple[str, ...]]:
    """The kind's example context for a Hindi reader, and the example values (data, not copy)."""
    context = {**kind.sample_context(), "language": "hi"}
    values = [value for value in context.values() if isinstance(value, str | int)]
    values += [item for value in context.values() if isinstance(value, list | tuple) for item in value]
    values += [part for item in values if isinstance(item, dict) for part in item.values()]  # a digest's items
    values = tuple(str(value) for value in values if str(value))
    return context, (*values, settings.SITE_NAME)


@pytest.mark.parametrize("kind", all_kinds(), ids=lambda kind: kind.name)
def test_every_kind_renders_in_hindi_with_no_english_copy_on_every_channel(kind):
    context, data = sample(kind)
    texts = {}
    if Channel.EMAIL in kind.channels:
        email = render_email(kind=kind, context=context, delivery_id=None, preview=True)
        texts |= {"subject": email.subject, "text": email.text, "html": email.html}
    if Channel.WHATSAPP in kind.channels:
        texts["whatsapp"] = render_whatsapp(kind=kind, context=context, preview=True)[0].text
    if INAPP in kind.channels:
        inapp = render_inapp(kind=kind, context=context, preview=True)
        texts |= {"in-app title": inapp.subject, "in-app": inapp.text}
    for part, text in texts.items():
        with translation.override("hi"):
            text = render_relative_times(text)  # what the notifications page shows of it
        assert DEVANAGARI.search(text), f"{kind.name} {part}"
        # A preview shows what only a real send makes (personal links, the hook's values) as placeholders.
        text = PLACEHOLDER.sub("", text.replace(REDACTED, ""))
        assert english_words(text, data=data) == [], f"{kind.name} {part}: {text}"


def test_the_day_words_are_rendered_in_the_readers_language_from_the_day_planning_stored():
    thursday = {"local_date": "2026-11-26", "days_away": 2}
    assert session_day_words({**thursday, "language": "hi"}) == {"day_label": "गुरुवार", "day_phrase": "गुरुवार को"}
    assert session_day_words(thursday) == {"day_label": "Thursday", "day_phrase": "on Thursday"}
    assert session_day_words({"local_date": "2026-11-25", "days_away": 1, "language": "hi"})["day_phrase"] == "कल"
    assert session_day_words({"local_date": "2026-11-24", "days_away": 0})["day_label"] == "Today"
    assert session_day_words({"day_label": "Tomorrow"}) == {}  # a row planned before: its own words


@pytest.mark.parametrize(
    ("hours", "hindi", "english"), [(20, "कल शुरू", "Starts Tomorrow"), (8, "आज शुरू", "Starts Today")]
)
def test_the_24h_reminder_says_tomorrow_or_today_in_each_readers_language(hours, hindi, english):
    course = CourseFactory()
    session = LiveSessionFactory(course=course, title="Plotting", scheduled_at=NOW + dt.timedelta(hours=hours))
    sunita = UserFactory(language="hi", name="Sunita Rao")
    asha = UserFactory(name="Asha Verma")
    for student in (sunita, asha):
        EnrollmentFactory(course=course, student=student)
    reminders.plan_session_reminders_24h(now=NOW)
    dispatch_due_deliveries(now=NOW)

    subjects = {message.to[0]: message.subject for message in mail.outbox}
    assert subjects == {sunita.email: f"{hindi}: {session.title}", asha.email: f"{english}: {session.title}"}
    assert "जल्द" not in subjects[sunita.email]  # not "soon" for a reminder a day ahead
    body = next(message.body for message in mail.outbox if message.to == [sunita.email])
    assert f"{hindi.split()[0]} शुरू हो रहा है" in body and "Tomorrow" not in body and "Today" not in body


def test_a_hindi_student_gets_every_student_message_in_hindi_on_every_channel():
    world = build_student_world(name="Sunita Rao")
    student = world["student"]
    staff = StaffUserFactory(name="Kavya Menon")
    new_student = UserFactory(language="hi", name="Meera Iyer", opted_in=True)
    approve_cta_submission(submission=CTASubmissionFactory(email=new_student.email), approved_by=staff)
    request_set_password_link(email=student.email)
    dispatch_due_deliveries(now=timezone.now())

    data = (*world["data"], "Meera Iyer", "Meera", "Course fee")
    emails = [message for message in mail.outbox if message.to[0] in (student.email, new_student.email)]
    kinds = {message.extra_headers.get("X-Kind") or message.subject for message in emails}
    assert len(emails) >= 7, kinds  # 15 min, 24 h, recording, assignment, payment, set-password, welcome
    for message in emails:
        html = message.alternatives[0].content
        for part in (message.subject, message.body, html):
            assert DEVANAGARI.search(part) and english_words(part, data=data) == [], message.subject
        assert 'lang="hi"' in html
    payment = next(message for message in emails if "भुगतान" in message.subject)
    assert "₹4,999" in payment.subject and "भुगतान पूरा करें" in payment.alternatives[0].content

    texts = [message for message in whatsapp_outbox if message.to in (student.phone, new_student.phone)]
    assert {message.kind for message in texts} >= {"session_15min", "session_24h", "payment_reminder", "welcome"}
    for message in texts:
        assert DEVANAGARI.search(message.body) and english_words(message.body, data=data) == [], message.kind

    notes = Notification.objects.filter(user__in=[student, new_student])
    assert {note.kind for note in notes} >= {"session_15min", "session_24h", "payment_reminder", "welcome"}
    with translation.override("hi"):
        for note in notes:
            for text in (render_relative_times(note.title), render_relative_times(note.message)):
                assert DEVANAGARI.search(text) and english_words(text, data=data) == [], note.kind
