"""Copy per language: an edit in one language never changes what another language's readers get."""

import datetime as dt
import re

import pytest
from django.core import mail
from django.utils import timezone

from lms import reminders
from lms.tests.factories import CourseFactory, EnrollmentFactory, LiveSessionFactory, StaffUserFactory, UserFactory
from notifications.copy.published import forget_published_versions
from notifications.models import Delivery, MessageTemplate
from notifications.services.dispatch import dispatch_due_deliveries

pytestmark = pytest.mark.django_db


def publish(*, kind: str, channel: str, language: str, subject: str = "", text: str, by=None) -> MessageTemplate:
    version = MessageTemplate.objects.create(
        kind=kind,
        channel=channel,
        language=language,
        version=1 + MessageTemplate.objects.filter(kind=kind, channel=channel, language=language).count(),
        status="published",
        subject=subject,
        text=text,
        created_by=by,
        published_at=timezone.now(),
    )
    forget_published_versions()
    return version


def test_an_english_email_edit_leaves_a_hindi_student_with_the_hindi_email():
    now = timezone.now()
    course = CourseFactory()
    session = LiveSessionFactory(course=course, scheduled_at=now + dt.timedelta(hours=20))
    hindi = UserFactory(language="hi", name="Sunita Rao")
    english = UserFactory(name="Asha Verma")
    for student in (hindi, english):
        EnrollmentFactory(course=course, student=student)
    publish(
        kind="session_24h",
        channel="email",
        language="en",
        subject="Starts Tomorrow: {{ title }}",
        text="Hi {{ first_name }},\n\n{{ title }} starts {{ when }}.\n\nP.S. Bring your notebook.",
        by=StaffUserFactory(),
    )

    reminders.plan_session_reminders_24h(now=now)
    dispatch_due_deliveries(now=now)

    sent = {message.to[0]: message for message in mail.outbox}
    assert "P.S. Bring your notebook." in sent[english.email].body
    assert "P.S." not in sent[hindi.email].body and "Hi " not in sent[hindi.email].body
    assert "नमस्ते" in sent[hindi.email].body and session.title in sent[hindi.email].subject
    assert Delivery.objects.get(to_address=hindi.email, channel="email").template_version is None


def hindi_channels() -> list[tuple[str, str]]:
    from notifications.copy.shipped import is_shipped
    from notifications.kinds import all_kinds

    return [
        (kind.name, channel)
        for kind in all_kinds()
        for channel in kind.channels
        if is_shipped(kind=kind.name, channel=channel, language="hi")
    ]


def render(kind_name: str, channel: str, language: str) -> tuple[str, str]:
    from notifications import rendering
    from notifications.kinds import get_kind

    kind = get_kind(kind_name)
    context = kind.sample_context() | {"language": language}
    if channel == "email":
        rendered = rendering.render_email(kind=kind, context=context, delivery_id=None, preview=True)
        return rendered.subject, rendered.text + rendered.html
    if channel == "whatsapp":
        rendered, variables = rendering.render_whatsapp(kind=kind, context=context, preview=True)
        return rendered.content_sid, rendered.text + repr(variables)
    # In-app, both ways planning renders it: looking versions up, and with those it read at once.
    looked_up = rendering.render_inapp(kind=kind, context=context, preview=True)
    at_once = rendering.render_inapp(
        kind=kind, context=context, preview=True, published=rendering.published_inapp_versions(kind=kind_name)
    )
    assert (looked_up.subject, looked_up.text) == (at_once.subject, at_once.text)
    return looked_up.subject, looked_up.text


HINDI = [pytest.param(*pair, id="-".join(pair)) for pair in hindi_channels()]


@pytest.mark.parametrize(("kind_name", "channel"), HINDI)
def test_an_english_publish_leaves_the_hindi_message_unchanged(kind_name, channel):
    from notifications.editor.services import starting_parts
    from notifications.kinds import get_kind

    hindi_before, english_before = render(kind_name, channel, "hi"), render(kind_name, channel, "en")
    parts = starting_parts(kind=get_kind(kind_name), channel=channel, language="en")
    publish(
        kind=kind_name,
        channel=channel,
        language="en",
        subject=(parts.get("subject") or "") + " (edited)",
        text=parts["text"] + "\n\nP.S. Edited by staff.",
    )

    assert render(kind_name, channel, "en") != english_before  # English readers get the edit...
    assert render(kind_name, channel, "hi") == hindi_before  # ...Hindi readers keep their own text


def test_hindi_files_ship_for_the_session_reminders_on_every_channel():
    assert {("session_24h", "email"), ("session_24h", "whatsapp"), ("session_24h", "inapp")} <= set(hindi_channels())


def test_an_email_edited_as_text_keeps_the_shipped_buttons_and_no_raw_calendar_link():

    from notifications.editor.services import starting_parts
    from notifications.kinds import get_kind

    now = timezone.now()
    course = CourseFactory()
    LiveSessionFactory(course=course, scheduled_at=now + dt.timedelta(hours=20))
    student = UserFactory(name="Asha Verma")
    EnrollmentFactory(course=course, student=student)
    parts = starting_parts(kind=get_kind("session_24h"), channel="email", language="en")
    publish(
        kind="session_24h", channel="email", language="en", subject=parts["subject"], text=parts["text"] + "\n\nP.S."
    )

    reminders.plan_session_reminders_24h(now=now)
    dispatch_due_deliveries(now=now)

    html = mail.outbox[0].alternatives[0][0]
    calendar_url = Delivery.objects.get(channel="email").context["calendar_url"]
    assert len(calendar_url) > 200 and "P.S." in html
    assert re.search(r'<a href="https?://[^"/]+/s/join/[^"]+" style="display:inline-block[^"]*">Join Meeting</a>', html)
    link_texts = re.findall(r"<a [^>]*>(.*?)</a>", html)
    assert max(len(text) for text in link_texts) <= 50 and "calendar.google.com/…" in link_texts
    assert calendar_url.replace("&", "&amp;") in html  # the link itself is whole


def test_the_unsubscribe_link_of_an_edited_lead_email_stays_a_plain_link_not_a_button():
    from notifications import rendering
    from notifications.kinds import get_kind

    version = publish(
        kind="lead_day3",
        channel="email",
        language="en",
        subject="Still keen?",
        text="Hi {{ first_name }}\n\nApply now: {{ cta_url }}\n\nUnsubscribe: {{ unsubscribe_url }}",
    )
    kind = get_kind("lead_day3")
    context = kind.sample_context() | {"cta_url": "https://school.example/start/?c=day3"}
    rendered = rendering.render_email(kind=kind, context=context, delivery_id=None, send=True)
    assert rendered.version_id == version.pk
    buttons = re.findall(r"<a [^>]*display:inline-block[^>]*>(.*?)</a>", rendered.html)
    assert buttons == ["Apply now"] and "Unsubscribe: <a href=" in rendered.html
