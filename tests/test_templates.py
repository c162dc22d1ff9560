"""Copy staff edit in the admin: versions, sandbox checks, preview, test sends, publishing, languages."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from leads.campaigns import plan_lead_follow_ups
from leads.models import Lead
from leads.tests.factories import LeadFactory
from lms.tests.factories import StaffUserFactory
from notifications.models import Delivery, MessageTemplate
from notifications.services.dispatch import dispatch_due_deliveries

pytestmark = pytest.mark.django_db
ADD = reverse("admin:notifications_messagetemplate_add")
NEW_DAY3_TEXT = (
    "Hi {{ first_name }},\n\nOur new cohort starts Monday. Still keen? {{ cta_url }}\n\n"
    "Unsubscribe: {{ unsubscribe_url }}"
)
HINDI_DAY3_TEXT = "नमस्ते {{ first_name }},\n\nनया बैच सोमवार से शुरू। {{ cta_url }}\n\nसदस्यता छोड़ें: {{ unsubscribe_url }}"


def staff_client(*perms: str, **fields) -> tuple[Client, object]:
    user = StaffUserFactory(**fields)
    user.user_permissions.add(*Permission.objects.filter(codename__in=perms))
    client = Client()
    client.force_login(user)
    return client, user


def add_version(client, *, kind="lead_day3", channel="email", language="en", follow=False, **parts):
    data = {"kind": kind, "channel": channel, "language": language, "subject": "", "text": "", "html": ""}
    data |= {"whatsapp_content_sid": "", "whatsapp_variables": "", "note": "", "_save": "Save", **parts}
    return client.post(ADD, data, follow=follow)


def publish(client, version):
    """Press Publish (or Approve) on the version's page: the form carries the hash of the text shown."""
    page = client.get(reverse("admin:notifications_messagetemplate_change", args=[version.pk])).content.decode()
    shown = re.search(r'name="content_hash" value="([0-9a-f]*)"', page)
    data = {"content_hash": shown.group(1)} if shown else {}
    return client.post(reverse("admin:notifications_messagetemplate_publish", args=[version.pk]), data, follow=True)


def day3_due_lead(**fields) -> Lead:
    lead = LeadFactory(contacted=True, **fields)
    return lead


def send_day3() -> None:
    now = timezone.now()
    plan_lead_follow_ups(now=now)
    dispatch_due_deliveries(now=now)


@pytest.fixture
def editor():
    return staff_client("edit_message_copy", "publish_message_copy", "view_delivery", name="Priya Staff")


def test_staff_edit_preview_test_and_publish_the_day3_email_and_the_next_day3_carries_it(
    editor, django_capture_on_commit_callbacks
):
    client, priya = editor
    response = add_version(client, subject="Still with us, {{ first_name }}?", text=NEW_DAY3_TEXT, note="New cohort")
    version = MessageTemplate.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{version.pk}/change/")
    assert (version.version, version.status, version.created_by) == (1, "draft", priya)

    preview = client.get(reverse("admin:notifications_messagetemplate_preview", args=[version.pk]))
    page = preview.content.decode()
    assert "Still with us, Asha?" in page and "Our new cohort starts Monday." in page
    assert re.search(r'<iframe[^>]+sandbox[^>]+srcdoc="[^"]*Our new cohort starts Monday[^"]*"', page)

    with django_capture_on_commit_callbacks(execute=True):  # the test goes out once the request commits
        client.post(reverse("admin:notifications_messagetemplate_send_test", args=[version.pk]))
    test = Delivery.objects.get(is_test=True)
    assert (test.to_address, test.status, test.template_version) == (priya.email, "sent", version)
    assert mail.outbox[0].to == [priya.email] and "Our new cohort starts Monday." in mail.outbox[0].body

    lead = day3_due_lead(name="Ravi Kumar")
    send_day3()
    assert not Delivery.objects.filter(event__kind="lead_day3", is_test=False).exclude(template_version=None).exists()

    assert "is published" in publish(client, version).content.decode()
    version.refresh_from_db()
    assert (version.status, version.published_by) == ("published", priya)

    second = day3_due_lead(name="Meera Shah")
    mail.outbox.clear()
    send_day3()
    [message] = mail.outbox
    assert message.to == [second.email] and message.subject == "Still with us, Meera?"
    assert (
        "Our new cohort starts Monday." in message.body
        and "Our new cohort starts Monday." in message.alternatives[0][0]
    )
    delivery = Delivery.objects.get(to_address=second.email, event__kind="lead_day3")
    assert delivery.template_version == version
    assert lead.email != second.email

    page = client.get(reverse("admin:notifications_delivery_change", args=[delivery.pk])).content.decode()
    assert "lead_day3 Email (en) v1" in page


def test_a_hindi_lead_gets_the_hindi_version_and_an_english_lead_the_english_one(editor):
    client, _ = editor
    add_version(client, subject="Still with us, {{ first_name }}?", text=NEW_DAY3_TEXT)
    add_version(client, language="hi", subject="अब भी साथ हैं, {{ first_name }}?", text=HINDI_DAY3_TEXT)
    for version in MessageTemplate.objects.all():
        publish(client, version)
    hindi = day3_due_lead(name="Sunita Rao", language="hi")
    english = day3_due_lead(name="Asha Verma")

    send_day3()

    by_address = {message.to[0]: message for message in mail.outbox}
    assert by_address[hindi.email].subject == "अब भी साथ हैं, Sunita?"
    assert "नया बैच सोमवार से शुरू।" in by_address[hindi.email].body
    assert "Our new cohort starts Monday." in by_address[english.email].body
    versions = dict(Delivery.objects.values_list("to_address", "template_version__language"))
    assert versions == {hindi.email: "hi", english.email: "en"}


def test_a_hindi_lead_keeps_the_shipped_hindi_email_when_staff_edit_the_english_one(editor):
    client, _ = editor
    hindi = day3_due_lead(name="Sunita Rao", language="hi")
    send_day3()
    assert mail.outbox[0].subject == "क्या आप अब भी रुचि रखते हैं, Sunita?"
    assert Delivery.objects.get().template_version is None

    add_version(client, subject="Still with us, {{ first_name }}?", text=NEW_DAY3_TEXT)
    publish(client, MessageTemplate.objects.get())
    Lead.objects.filter(pk=hindi.pk).update(follow_up_day3_sent=False)
    Delivery.objects.all().delete()
    mail.outbox.clear()
    send_day3()
    # An English edit is for English readers: the shipped Hindi text beats it (issue 24).
    assert mail.outbox[0].subject == "क्या आप अब भी रुचि रखते हैं, Sunita?"
    assert Delivery.objects.get().template_version is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hi {{ first_name }},\n\nYour code: {{ secret_token }}", "Line 3: “secret_token” does not exist"),
        ("Hi\n{% if first_name %}unclosed", "Line 2: Unclosed tag"),
        ("Hi\n\n\n{% include 'notifications/base_email.html' %}", "Line 4: {% include %} is not allowed"),
        ("{% load static %}Hi", "Line 1: {% load %} is not allowed"),
        ("Hi {{ first_name|nosuchfilter }}", "Line 1: Invalid filter"),
    ],
)
def test_a_template_that_does_not_render_cannot_be_saved_and_the_error_names_the_line(editor, text, expected):
    client, _ = editor
    response = add_version(client, subject="Subject", text=text)
    assert response.status_code == 200
    assert expected in response.content.decode().replace("&#x27;", "'").replace("&quot;", '"')
    assert not MessageTemplate.objects.exists()


def test_a_broken_draft_cannot_be_published(editor):
    client, priya = editor
    broken = MessageTemplate.objects.create(
        kind="lead_day3", channel="email", language="en", version=1, subject="Hi", text="{{ nope }}", created_by=priya
    )
    page = publish(client, broken).content.decode()
    assert "Not published" in page and "Line 1: “nope” does not exist" in page
    broken.refresh_from_db()
    assert broken.status == "draft"


def test_the_editor_lists_the_kinds_variables_and_starts_from_the_live_copy(editor):
    client, _ = editor
    page = client.get(f"{ADD}?kind=lead_day7&channel=email&language=en").content.decode()
    assert "offer_resources" in page and "The offer&#x27;s discount in percent" in page
    shipped = "Last chance: {{ offer_discount }}% off{% if name %}, {{ first_name }}{% endif %}"
    assert shipped in page  # the shipped subject


def test_editing_copy_needs_its_own_permission():
    viewer, _ = staff_client("view_messagetemplate", "change_delivery")
    assert viewer.get(ADD).status_code == 403
    assert add_version(viewer, subject="x", text="y").status_code == 403

    writer, _ = staff_client("edit_message_copy")
    assert add_version(writer, subject="Hello", text="Hi {{ first_name }}").status_code == 302
    version = MessageTemplate.objects.get()
    assert publish(writer, version).status_code == 403
    version.refresh_from_db()
    assert version.status == "draft"


def test_a_published_version_is_never_edited_a_new_version_is(editor):
    client, _ = editor
    add_version(client, subject="One", text="Hi {{ first_name }}")
    first = MessageTemplate.objects.get()
    publish(client, first)
    url = reverse("admin:notifications_messagetemplate_change", args=[first.pk])
    client.post(url, {"subject": "Changed", "text": "Changed", "_save": "Save"})
    first.refresh_from_db()
    assert first.subject == "One"

    add_version(client, subject="Two", text="Hi {{ first_name }}")
    second = MessageTemplate.objects.get(version=2)
    publish(client, second)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("retired", "published")


def test_marketing_copy_needs_a_second_persons_approval_when_configured(editor, settings):
    settings.TEMPLATE_APPROVAL_REQUIRED_FOR_MARKETING = True
    client, priya = editor
    add_version(client, subject="Still with us?", text=NEW_DAY3_TEXT)
    version = MessageTemplate.objects.get()

    assert "waits for approval" in publish(client, version).content.decode()
    version.refresh_from_db()
    assert (version.status, version.submitted_by) == ("awaiting_approval", priya)
    assert "another staff member must approve it" in publish(client, version).content.decode()
    version.refresh_from_db()
    assert version.status == "awaiting_approval"

    reviewer, ravi = staff_client("edit_message_copy", "publish_message_copy")
    publish(reviewer, version)
    version.refresh_from_db()
    assert (version.status, version.approved_by, version.published_by) == ("published", ravi, ravi)


def test_when_approval_is_on_transactional_copy_needs_a_second_person_too(editor, settings):
    # Marketing text fits in a transactional kind: approval covers every kind a staff member can edit.
    settings.TEMPLATE_APPROVAL_REQUIRED_FOR_MARKETING = True
    client, _ = editor
    add_version(
        client, kind="payment_reminder", subject="Pay {{ amount }}", text="Hi {{ first_name }}, {{ payment_url }}"
    )
    version = MessageTemplate.objects.get()
    publish(client, version)
    version.refresh_from_db()
    assert version.status == "awaiting_approval"


def test_transactional_copy_is_published_by_its_author_when_approval_is_off(editor, settings):
    settings.TEMPLATE_APPROVAL_REQUIRED_FOR_MARKETING = False
    client, _ = editor
    add_version(
        client, kind="payment_reminder", subject="Pay {{ amount }}", text="Hi {{ first_name }}, {{ payment_url }}"
    )
    version = MessageTemplate.objects.get()
    publish(client, version)
    version.refresh_from_db()
    assert version.status == "published"


def test_a_test_send_is_not_counted_in_the_campaign_and_carries_no_real_recipients_link(editor):
    client, _ = editor
    lead = day3_due_lead(name="Ravi Kumar")
    send_day3()
    real = Delivery.objects.get()
    add_version(client, subject="Still with us, {{ first_name }}?", text=NEW_DAY3_TEXT)
    version = MessageTemplate.objects.get()
    client.post(reverse("admin:notifications_messagetemplate_send_test", args=[version.pk]), {"delivery": real.pk})
    test = Delivery.objects.get(is_test=True)
    assert "lead_id" not in test.context and test.subject_type != "leads.lead"
    from leads.stats import campaign_stats

    stats = campaign_stats(campaign=lead.campaign)
    assert sum(step.sent for step in stats.steps) == 1


def test_dispatch_reads_the_published_templates_once_per_batch_not_per_message(editor, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client, _ = editor
    add_version(client, subject="Still with us, {{ first_name }}?", text=NEW_DAY3_TEXT)
    publish(client, MessageTemplate.objects.get())

    def queries_to_send(leads: int) -> int:
        for _ in range(leads):
            day3_due_lead()
        now = timezone.now()
        plan_lead_follow_ups(now=now)
        with CaptureQueriesContext(connection) as captured:
            dispatch_due_deliveries(now=now)
        assert Delivery.objects.filter(status="sent", template_version__isnull=False).count() >= leads
        return sum("notifications_messagetemplate" in query["sql"] for query in captured.captured_queries)

    assert queries_to_send(3) <= 1
    assert queries_to_send(30) <= 1


def test_a_hindi_student_gets_session_dates_in_hindi_and_the_hindi_reminder(db):
    from lms import reminders
    from lms.tests.factories import CourseFactory, EnrollmentFactory, LiveSessionFactory, UserFactory

    now = timezone.now()
    course = CourseFactory()
    session = LiveSessionFactory(course=course, scheduled_at=now + dt.timedelta(hours=20))
    hindi = UserFactory(language="hi", name="Sunita Rao")
    english = UserFactory(name="Asha Verma")
    for student in (hindi, english):
        EnrollmentFactory(course=course, student=student)

    reminders.plan_session_reminders_24h(now=now)
    dispatch_due_deliveries(now=now)

    by_address = {message.to[0]: message for message in mail.outbox}
    # A day ahead it says "tomorrow" (कल), or "today" (आज) for a session later today in her zone.
    same_day = (
        session.scheduled_at.astimezone(ZoneInfo(hindi.timezone)).date()
        == now.astimezone(ZoneInfo(hindi.timezone)).date()
    )
    assert by_address[hindi.email].subject == f"{'आज' if same_day else 'कल'} शुरू: {session.title}"
    hindi_when = Delivery.objects.get(to_address=hindi.email, channel="email").context["when"]
    english_when = Delivery.objects.get(to_address=english.email, channel="email").context["when"]
    assert re.search(r"[\u0900-\u097F]", hindi_when) and not re.search(r"[\u0900-\u097F]", english_when)
    notes = {n.user_id: n for n in hindi.notifications.all() | english.notifications.all()}
    # The in-app time is put in words when shown, in the reader's language.
    from django.utils import translation

    from notifications.markers import render_relative_times

    with translation.override("hi"):
        assert "घंटे में शुरू होगा" in render_relative_times(notes[hindi.pk].message)
    assert "starts in" in render_relative_times(notes[english.pk].message)


def test_whatsapp_uses_the_approved_template_of_the_recipients_language(editor, settings):
    from lms import reminders
    from lms.tests.factories import CourseFactory, EnrollmentFactory, LiveSessionFactory, UserFactory
    from notifications.channels.whatsapp import outbox

    settings.TWILIO_CONTENT_SIDS = {"session_24h": "HXenglish", "session_24h:hi": "HXhindi"}
    now = timezone.now()
    course = CourseFactory()
    LiveSessionFactory(course=course, scheduled_at=now + dt.timedelta(hours=20))
    hindi = UserFactory(language="hi", opted_in=True)
    english = UserFactory(opted_in=True)
    for student in (hindi, english):
        EnrollmentFactory(course=course, student=student)
    outbox.clear()

    reminders.plan_session_reminders_24h(now=now)
    dispatch_due_deliveries(now=now)

    sids = {message.to: message.content_sid for message in outbox}
    assert sids == {hindi.phone: "HXhindi", english.phone: "HXenglish"}
