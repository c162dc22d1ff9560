"""The last seams of a Hindi student's messages (issue 24 item 6): in-app titles that say the day when
read, the lead offer's date, a CTA form's language, the calendar invitation, phone and service errors,
and the staff summary of an approval."""

import datetime as dt
import re

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from leads.conf import conf as leads_conf
from lms import reminders
from lms.tests.factories import CourseFactory, EnrollmentFactory, LiveSessionFactory, UserFactory
from notifications.models import Notification

pytestmark = pytest.mark.django_db
DEVANAGARI = re.compile(r"[\u0900-\u097F]")
NOW = dt.datetime(2026, 11, 24, 4, 30, tzinfo=dt.UTC)  # 10:00 in Kolkata, a Tuesday


def page_of(user) -> str:
    client = Client()
    client.force_login(user)
    return client.get(reverse("notifications:list")).content.decode()


def test_the_24h_in_app_title_says_tomorrow_the_day_before_and_the_date_once_it_is_past():
    course = CourseFactory()
    # Wednesday 09:00 in Kolkata: 20 h after NOW.
    session = LiveSessionFactory(course=course, title="Plotting", scheduled_at=NOW + dt.timedelta(hours=20))
    hindi, english = UserFactory(language="hi"), UserFactory(language="en")
    for student in (hindi, english):
        EnrollmentFactory(course=course, student=student)
    reminders.plan_session_reminders_24h(now=NOW)
    assert Notification.objects.filter(user__in=[hindi, english]).count() == 2

    with time_machine.travel(NOW + dt.timedelta(hours=1), tick=False):
        assert f"कल शुरू: {session.title}" in page_of(hindi)
        assert f"Starts Tomorrow: {session.title}" in page_of(english)
    # Wednesday morning, before the class: it is today now.
    with time_machine.travel(NOW + dt.timedelta(hours=19), tick=False):
        assert f"आज शुरू: {session.title}" in page_of(hindi)
        assert f"Starts Today: {session.title}" in page_of(english)
    # Days later the title names the day it was, never "tomorrow".
    with time_machine.travel(NOW + dt.timedelta(days=3), tick=False):
        hindi_page, english_page = page_of(hindi), page_of(english)
        assert "कल" not in hindi_page and f"25 नव॰ को शुरू: {session.title}" in hindi_page
        assert "Tomorrow" not in english_page and f"Starts 25 Nov: {session.title}" in english_page


def test_the_day7_offer_end_date_is_in_each_leads_language():
    from django.conf import settings
    from django.core import mail

    from common.formatting import format_when
    from leads.campaigns import plan_lead_follow_ups, start_lead_campaign
    from leads.tests.factories import LeadFactory
    from notifications.services.dispatch import dispatch_due_deliveries

    hindi, english = LeadFactory(language="hi"), LeadFactory(language="en")
    start_lead_campaign(lead_ids=[hindi.pk, english.pk], now=NOW)
    dispatch_due_deliveries(now=NOW)
    mail.outbox.clear()  # Day 0
    day7 = NOW + dt.timedelta(days=7)
    plan_lead_follow_ups(now=day7, days=[7])
    dispatch_due_deliveries(now=day7)

    ends = day7 + dt.timedelta(days=leads_conf.offer_valid_days)
    by_address = {message.to[0]: message for message in mail.outbox}
    hindi_email, english_email = by_address[hindi.email], by_address[english.email]
    hindi_date = format_when(ends, tz=settings.TIME_ZONE, locale="hi_IN")
    english_date = format_when(ends, tz=settings.TIME_ZONE, locale="en_IN")
    assert hindi_date != english_date
    assert hindi_date in hindi_email.body and english_date not in hindi_email.body
    assert english_date in english_email.body


def submit_form_in(language: str, email: str):
    from leads.models import CTASubmission

    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    page = client.post(
        reverse("leads:cta"),
        {"name": "Meera Iyer", "email": email, "phone": "+91 98765 43210", "whatsapp_opt_in": "on"},
        follow=True,
    )
    assert page.status_code == 200
    return CTASubmission.objects.get(email=email)


def test_a_cta_form_filled_in_hindi_makes_a_hindi_student_with_a_hindi_welcome():
    from django.core import mail

    from leads.onboarding import approve_cta_submission
    from lms.tests.factories import StaffUserFactory
    from notifications.services.dispatch import dispatch_due_deliveries

    hindi = submit_form_in("hi", "meera@example.com")
    english = submit_form_in("en", "asha@example.com")
    assert (hindi.language, english.language) == ("hi", "en")

    staff = StaffUserFactory()
    approve_cta_submission(submission=hindi, approved_by=staff)
    approve_cta_submission(submission=english, approved_by=staff)
    hindi.refresh_from_db()
    english.refresh_from_db()
    assert (hindi.user.language, english.user.language) == ("hi", "en")
    dispatch_due_deliveries()
    welcome = {message.to[0]: message.subject for message in mail.outbox}
    assert "स्वागत" in welcome["meera@example.com"] and "Welcome" in welcome["asha@example.com"]


def test_a_rejection_goes_in_the_language_the_form_was_filled_in():
    from django.core import mail

    from leads.onboarding import reject_cta_submission
    from lms.tests.factories import StaffUserFactory
    from notifications.services.dispatch import dispatch_due_deliveries

    submission = submit_form_in("hi", "meera@example.com")
    reject_cta_submission(submission=submission, rejected_by=StaffUserFactory(), reason="")
    dispatch_due_deliveries()
    (message,) = mail.outbox
    assert DEVANAGARI.search(message.subject) and DEVANAGARI.search(message.body)


def test_the_calendar_invitation_speaks_the_readers_language():
    from urllib.parse import unquote_plus

    import icalendar
    from django.core import mail

    from notifications.services.dispatch import dispatch_due_deliveries

    course = CourseFactory(title="Python for Data Analysis")
    LiveSessionFactory(course=course, title="Plotting", scheduled_at=NOW + dt.timedelta(hours=20))
    hindi, english = UserFactory(language="hi"), UserFactory(language="en")
    for student in (hindi, english):
        EnrollmentFactory(course=course, student=student)
    reminders.plan_session_reminders_24h(now=NOW)
    dispatch_due_deliveries(now=NOW)

    def invitation(user) -> tuple[str, str]:
        (message,) = [message for message in mail.outbox if message.to == [user.email]]
        (ics,) = [content for name, content, _ in message.attachments if name.endswith(".ics")]
        event = icalendar.Calendar.from_ical(ics).walk("VEVENT")[0]
        return str(event["description"]), unquote_plus(message.body)

    hindi_description, hindi_body = invitation(hindi)
    english_description, english_body = invitation(english)
    assert "जुड़ें: https://" in hindi_description and "Join" not in hindi_description
    assert "Join: https://" in english_description
    # The "add to Google Calendar" link's text too.
    assert "details=Python for Data Analysis\nजुड़ें: https://" in hindi_body
    assert "details=Python for Data Analysis\nJoin: https://" in english_body


@pytest.mark.parametrize(
    ("typed", "hindi"),
    [("12", "“12” सही फ़ोन नंबर नहीं है।"), ("hello", "“hello” फ़ोन नंबर नहीं है: यह फ़ोन नंबर जैसा नहीं लगता।")],
)
def test_a_hindi_student_typing_a_wrong_number_is_told_why_in_hindi(typed, hindi):
    from html import unescape

    student = UserFactory(language="hi", name="Sunita Rao", phone="")
    client = Client()
    client.force_login(student)
    form = {"name": "Sunita Rao", "phone": typed, "timezone": "Asia/Kolkata", "language": "hi"}
    page = unescape(client.post(reverse("lms:profile"), form).content.decode())
    assert hindi in page and "phone number" not in page


def test_the_services_refusals_are_in_the_readers_language():
    from django.core.exceptions import ValidationError
    from django.utils import translation

    from lms.services import submit_assignment, update_profile
    from lms.tests.factories import AssignmentFactory
    from notifications.services.preferences import whatsapp_contact

    student = UserFactory(language="hi")
    with translation.override("hi"):
        with pytest.raises(ValidationError) as refused:
            submit_assignment(assignment=AssignmentFactory(), student=student, text="answer")
        assert refused.value.messages == ["आप इस कोर्स में नामांकित नहीं हैं।"]
        with pytest.raises(ValidationError) as refused:
            whatsapp_contact(phone="", whatsapp=True)
        assert refused.value.message_dict["phone"] == ["WhatsApp पर संदेश पाने के लिए अपना मोबाइल नंबर जोड़ें।"]
        with pytest.raises(ValidationError) as refused:
            update_profile(
                user=student, name=" ", phone="", time_zone="Asia/Kolkata", language="hi", whatsapp_opt_in=False
            )
        assert refused.value.message_dict["name"] == ["अपना नाम बताइए: आपके संदेशों में आपको इसी नाम से संबोधित किया जाता है।"]


def test_a_hindi_speaking_staff_member_reads_the_approval_lines_in_hindi():
    from html import unescape

    from django.contrib.auth.models import Permission

    from leads.tests.factories import CTASubmissionFactory
    from lms.tests.factories import StaffUserFactory
    from tests.hindi import BASE, _extract, untranslated

    staff = StaffUserFactory(name="Priya Nair", language="hi")
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["approve_ctasubmission", "view_ctasubmission", "change_ctasubmission"])
    )
    fresh = CTASubmissionFactory(name="Kabir Singh", email="kabir@example.com", whatsapp_opt_in=False)
    done = CTASubmissionFactory(name="Ravi Kumar", status="approved")
    client = Client()
    client.force_login(staff)
    page = client.post(
        "/admin/leads/ctasubmission/",
        {"action": "approve_selected", "_selected_action": [fresh.pk, done.pk]},
        follow=True,
    ).content.decode()
    page = unescape(page)
    assert "Kabir Singh: स्वीकृत। खाता kabir@example.com बनाया गया" in page
    assert "Ravi Kumar: स्वीकृत नहीं हुआ। Ravi Kumar का अनुरोध पहले ही स्वीकृत हो चुका है।" in page
    # The note the staff member gets says what was done, in Hindi too.
    (note,) = Notification.objects.filter(user=staff)
    assert "छात्र खाता kabir@example.com बनाया गया" in note.message
    assert "WhatsApp पर स्वागत संदेश नहीं (WhatsApp की सहमति नहीं)" in note.message
    assert "Welcome email" not in note.message

    # Every line staff read about an approval has its Hindi.
    lines = _extract((BASE / "leads/onboarding.py").read_text()) | _extract((BASE / "leads/admin.py").read_text())
    assert "Welcome email with a set-password link" in lines
    assert untranslated(lines) == []


def test_staff_see_an_in_app_title_in_words_not_its_stored_day(admin_client):
    course = CourseFactory()
    LiveSessionFactory(course=course, title="Plotting", scheduled_at=NOW + dt.timedelta(hours=20))
    EnrollmentFactory(course=course, student=UserFactory(language="en"))
    reminders.plan_session_reminders_24h(now=NOW)
    with time_machine.travel(NOW + dt.timedelta(hours=1), tick=False):
        page = admin_client.get("/admin/notifications/notification/").content.decode()
    assert "Starts Tomorrow: Plotting" in page and "[[day" not in page


@pytest.mark.parametrize(
    ("text", "kind"),
    [("STOP", "whatsapp_stopped"), ("START", "whatsapp_started"), ("STOP OFFERS", "whatsapp_marketing_stopped")],
)
def test_a_hindi_students_keyword_is_confirmed_in_hindi(text, kind):
    from notifications.channels.whatsapp import outbox
    from notifications.services.dispatch import dispatch_due_deliveries
    from notifications.services.inbound import keyword_of, receive_whatsapp_message

    assert keyword_of(text)  # a keyword we act on
    student = UserFactory(language="hi", opted_in=True)
    receive_whatsapp_message(provider="twilio", provider_message_id=f"SM{kind}", from_address=student.phone, text=text)
    dispatch_due_deliveries()
    (reply,) = [message for message in outbox if message.to == student.phone]
    assert reply.kind == kind and DEVANAGARI.search(reply.body), reply.body
