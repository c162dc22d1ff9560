"""Issue 24's promise end to end, on every channel: staff publish an edited English session_24h
(email, WhatsApp, in-app) and a Hindi translation of the email through the real admin views; then
planning (run_reminders) and dispatch (the real ledger, the locmem email backend, the fake Graph
API over real HTTP) give a Hindi student Hindi everywhere (WhatsApp in an approved language) and an
English student the edited English everywhere."""

import datetime as dt
import re
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from lms.models import LiveSession
from lms.tests.factories import CourseFactory, EnrollmentFactory, LiveSessionFactory, StaffUserFactory, UserFactory
from notifications.models import Delivery, MessageTemplate, Notification
from notifications.services.dispatch import dispatch_due_deliveries
from tests.fake_graph import template

pytestmark = pytest.mark.django_db
DEVANAGARI = re.compile(r"[\u0900-\u097F]")
EN_PS = "P.S. Bring your notebook."
HI_PS = "पुनश्च: अपनी नोटबुक साथ लाएँ।"
WHATSAPP_EDIT = "Reply if you cannot make it."
INAPP_EDIT = "Your notebook, please."


@pytest.fixture
def priya() -> Client:
    """A staff member who may edit and publish message copy, logged in to the admin."""
    staff = StaffUserFactory(email="priya@school.example", name="Priya Nair")
    staff.user_permissions.set(Permission.objects.filter(codename__in=["edit_message_copy", "publish_message_copy"]))
    client = Client()
    client.force_login(staff)
    return client


def publish_edit(client: Client, *, channel: str, language: str, edit) -> MessageTemplate:
    """Open the add page on the live text, change it, preview, publish: as staff do in the admin."""
    add = reverse("admin:notifications_messagetemplate_add")
    page = client.get(add, {"kind": "session_24h", "channel": channel, "language": language})
    assert page.status_code == 200
    form = page.context["adminform"].form
    live = {name: form.initial.get(name) or "" for name in ("subject", "text", "html", "whatsapp_content_sid")}
    variables = form.initial.get("whatsapp_variables") or ""
    posted = client.post(
        add,
        {
            "kind": "session_24h",
            "channel": channel,
            "language": language,
            **live,
            "text": edit(live["text"]),
            "whatsapp_variables": variables,
            "note": f"{language} {channel} edit",
            "_preview": "Save and preview",
        },
    )
    assert posted.status_code == 302, posted.context and posted.context["adminform"].form.errors
    version = MessageTemplate.objects.filter(kind="session_24h", channel=channel, language=language).latest("pk")
    assert client.get(posted.url).status_code == 200  # the preview page (what the publisher saw)
    confirm = client.get(reverse("admin:notifications_messagetemplate_publish", args=[version.pk]))
    assert confirm.status_code == 200
    client.post(reverse("admin:notifications_messagetemplate_publish", args=[version.pk]))
    version.refresh_from_db()
    assert version.status == MessageTemplate.Status.PUBLISHED, version.status
    return version


@pytest.fixture
def published(priya):
    """English email, WhatsApp and in-app edited and published; the Hindi email translated from the shipped Hindi."""
    english = {
        "email": publish_edit(priya, channel="email", language="en", edit=lambda text: f"{text}\n\n{EN_PS}"),
        "whatsapp": publish_edit(
            priya, channel="whatsapp", language="en", edit=lambda text: f"{text}\n\n{WHATSAPP_EDIT}"
        ),
        "inapp": publish_edit(priya, channel="inapp", language="en", edit=lambda text: f"{text} {INAPP_EDIT}"),
    }

    def translate(text: str) -> str:
        assert DEVANAGARI.search(text) and EN_PS not in text  # it starts from the shipped Hindi, not English
        return f"{text}\n\n{HI_PS}"

    hindi = publish_edit(priya, channel="email", language="hi", edit=translate)
    return english, hindi


def students():
    now = timezone.now()
    course = CourseFactory()
    LiveSessionFactory(course=course, title="Python Basics", scheduled_at=now + dt.timedelta(hours=20))
    hindi = UserFactory(language="hi", name="Sunita Rao", opted_in=True, phone="+919876500001")
    english = UserFactory(name="Asha Verma", opted_in=True, phone="+919876500002")
    for student in (hindi, english):
        EnrollmentFactory(course=course, student=student)
    return hindi, english


def plan_and_send() -> None:
    mail.outbox.clear()
    call_command("run_reminders", "session_24h", stdout=StringIO())
    dispatch_due_deliveries()


def row(student, channel: str) -> Delivery:
    return Delivery.objects.get(event__kind="session_24h", channel=channel, recipient=student)


def sync(graph, *languages: str) -> None:
    graph.strict = True  # a template not approved in the language sent is refused (132001)
    graph.templates = [template("session_reminder_24h", language=language) for language in languages]
    call_command("whatsapp_templates", "sync", stdout=StringIO())


@pytest.mark.parametrize(
    ("approved", "hindi_template"),
    [(("en",), "en"), (("en", "hi"), "hi")],
    ids=["only-en-approved", "hi-approved-too"],
)
def test_after_staff_publish_english_edits_and_a_hindi_email_each_student_gets_their_language_everywhere(
    graph, published, approved, hindi_template
):
    english_versions, hindi_email = published
    sync(graph, *approved)
    hindi, english = students()
    plan_and_send()

    # Email: the Hindi translation for her, the edited English for him.
    sent = {message.to[0]: message for message in mail.outbox}
    assert HI_PS in sent[hindi.email].body and EN_PS not in sent[hindi.email].body
    assert DEVANAGARI.search(sent[hindi.email].subject)
    assert EN_PS in sent[english.email].body and not DEVANAGARI.search(sent[english.email].body)
    assert row(hindi, "email").template_version == hindi_email
    assert row(english, "email").template_version == english_versions["email"]

    # WhatsApp: each to Meta in an approved language, never refused (132001); the history says why not Hindi.
    languages = {message["to"]: message["template"]["language"]["code"] for message in graph.sent()}
    assert languages == {hindi.phone.removeprefix("+"): hindi_template, english.phone.removeprefix("+"): "en"}
    hindi_whatsapp, english_whatsapp = row(hindi, "whatsapp"), row(english, "whatsapp")
    assert hindi_whatsapp.status == english_whatsapp.status == Delivery.Status.SENT
    assert WHATSAPP_EDIT in english_whatsapp.rendered_text
    assert english_whatsapp.template_version == english_versions["whatsapp"]
    fallback = hindi_whatsapp.events.filter(detail__contains="not approved in hi")
    if hindi_template == "hi":
        assert DEVANAGARI.search(hindi_whatsapp.rendered_text) and WHATSAPP_EDIT not in hindi_whatsapp.rendered_text
        assert not fallback.exists()
    else:  # what went out is the approved English template, as edited; and why
        assert WHATSAPP_EDIT in hindi_whatsapp.rendered_text and fallback.exists()

    # In-app: the shipped Hindi for her (no Hindi in-app edit was published), the edit for him.
    hindi_note, english_note = Notification.objects.get(user=hindi), Notification.objects.get(user=english)
    assert DEVANAGARI.search(hindi_note.title) and DEVANAGARI.search(hindi_note.message)
    assert INAPP_EDIT not in hindi_note.message
    assert INAPP_EDIT in english_note.message and not DEVANAGARI.search(english_note.message)
    # 20 h ahead is tomorrow or later today in her zone, by the hour the test runs at.
    session = LiveSession.objects.get()
    local = ZoneInfo(hindi.timezone)
    tomorrow = session.scheduled_at.astimezone(local).date() > timezone.now().astimezone(local).date()
    starts = "कल शुरू" if tomorrow else "आज शुरू"
    for student, wanted, unwanted in ((hindi, starts, INAPP_EDIT), (english, INAPP_EDIT, starts)):
        reader = Client()
        reader.force_login(student)
        page = reader.get(reverse("notifications:list")).content.decode()
        assert wanted in page and unwanted not in page and "[[starts" not in page  # as the student reads it


def test_a_hindi_reader_sent_the_approved_english_template_gets_its_date_in_english_too(graph):
    sync(graph, "en")
    hindi, _english = students()
    plan_and_send()
    (sent,) = [message for message in graph.sent() if message["to"] == hindi.phone.removeprefix("+")]
    values = [parameter["text"] for parameter in sent["template"]["components"][0]["parameters"]]
    assert not any(DEVANAGARI.search(value) for value in values), values
