"""The copy catalogue in the admin: every message × channel × language, its state, edit from the live
text, preview in the language, who a publish reaches, and "back to the shipped text"."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from common.formatting import format_when
from common.languages import message_locale
from lms.tests.factories import StaffUserFactory
from notifications.copy.shipped import is_shipped, shipped_name
from notifications.kinds import all_kinds, get_kind
from notifications.languages import available_languages
from notifications.models import Language, MessageTemplate

pytestmark = pytest.mark.django_db
LANDING = reverse("admin:notifications_messagetemplate_changelist")
ADD = reverse("admin:notifications_messagetemplate_add")


def staff(*perms: str, **fields) -> tuple[Client, object]:
    user = StaffUserFactory(**fields)
    user.user_permissions.add(*Permission.objects.filter(codename__in=perms))
    client = Client()
    client.force_login(user)
    return client, user


@pytest.fixture
def editor():
    return staff("edit_message_copy", "publish_message_copy", name="Priya Nair")


def add_version(client, *, kind, channel, language, subject="", text, html=""):
    data = {"kind": kind, "channel": channel, "language": language, "subject": subject, "text": text}
    data |= {"html": html, "whatsapp_content_sid": "", "whatsapp_variables": "", "note": "", "_save": "Save"}
    response = client.post(ADD, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    return MessageTemplate.objects.filter(kind=kind, channel=channel, language=language).latest("version")


def publish(client, version) -> str:
    url = reverse("admin:notifications_messagetemplate_publish", args=[version.pk])
    return client.post(url, follow=True).content.decode()


def rows(page: str) -> list[tuple[str, str, str, str]]:
    pattern = (
        r'data-testid="catalogue-row" data-kind="(\w+)" data-channel="(\w+)" data-language="(\w+)" data-state="(\w+)"'
    )
    return re.findall(pattern, page)


def shipped_source(kind: str, channel: str, language: str) -> str:
    path = settings.BASE_DIR / "templates" / shipped_name(kind=kind, channel=channel, language=language)
    return path.read_text().strip()


def test_the_landing_page_of_message_templates_is_the_catalogue_of_every_kind_channel_and_language(editor):
    client, _ = editor
    Language.objects.create(code="ta", name="தமிழ் (Tamil)", locale="ta_IN")
    index = client.get(reverse("admin:index")).content.decode()
    assert f'href="{LANDING}"' in index

    page = client.get(LANDING).content.decode()

    expected = {
        (kind.name, channel, code)
        for kind in all_kinds()
        for channel in kind.channels
        for code, _ in available_languages()
    }
    found = rows(page)
    assert {row[:3] for row in found} == expected and len(found) == len(expected)
    states = {row[:3]: row[3] for row in found}
    assert states["session_24h", "email", "en"] == "shipped"
    assert states["session_24h", "email", "hi"] == "shipped"
    assert states["session_24h", "email", "ta"] == "missing"  # a language staff added, with no text yet
    assert f"{len(expected)} texts" in page and "All versions" in page


def test_the_catalogue_says_who_published_a_text_and_shows_waiting_drafts(editor):
    client, _ = editor
    version = add_version(
        client, kind="session_24h", channel="email", language="en", subject="Starts soon: {{ title }}", text="Hi!"
    )
    page = client.get(LANDING).content.decode()
    assert ("session_24h", "email", "en", "shipped") in rows(page) and "Draft v1 by Priya Nair" in page

    publish(client, version)
    page = client.get(LANDING).content.decode()
    assert ("session_24h", "email", "en", "published") in rows(page)
    assert "Edited and published (v1)" in page and "Published v1 by Priya Nair" in page
    filtered = client.get(reverse("admin:notifications_messagetemplate_catalogue"), {"state": "published"})
    assert [row[:3] for row in rows(filtered.content.decode())] == [("session_24h", "email", "en")]


def test_the_version_list_stays_one_link_away_from_the_catalogue(editor):
    client, _ = editor
    add_version(client, kind="lead_day3", channel="email", language="en", subject="Hi", text="Still keen?")
    versions = client.get(LANDING + "?o=1.2.3.-4").content.decode()
    assert "1 message template" in versions and "lead_day3" in versions


def test_add_opens_on_a_messages_live_text_never_a_blank_form(editor):
    client, _ = editor
    response = client.get(ADD)
    first = all_kinds()[0]
    initial = response.context["adminform"].form.initial
    assert (initial["kind"], initial["text"]) == (first.name, shipped_source(first.name, first.channels[0], "en"))
    assert "copy_editor.js" in response.content.decode()  # choosing another message loads its text

    parts = client.get(
        reverse("admin:notifications_messagetemplate_live_parts", args=["session_24h", "whatsapp", "hi"])
    ).json()
    assert parts["text"] == shipped_source("session_24h", "whatsapp", "hi")
    assert parts["whatsapp_variables"] == ", ".join(get_kind("session_24h").whatsapp_variables)


@pytest.mark.parametrize("channel", ["email", "whatsapp", "inapp"])
def test_a_hindi_translation_starts_from_the_shipped_hindi_text_not_the_english_one(editor, channel):
    client, _ = editor
    english = add_version(
        client,
        kind="session_24h",
        channel=channel,
        language="en",
        subject="Tomorrow: {{ title }}",
        text="Hi {{ title }}",
    )
    publish(client, english)

    form = client.get(ADD, {"kind": "session_24h", "channel": channel, "language": "hi"})
    text = form.context["adminform"].form.initial["text"]
    assert text == shipped_source("session_24h", channel, "hi") and "Hi {{ title }}" not in text


def test_a_language_without_its_own_text_starts_from_the_english_text_readers_get(editor):
    client, _ = editor
    Language.objects.create(code="ta", name="தமிழ் (Tamil)", locale="ta_IN")
    english = add_version(
        client, kind="lead_day3", channel="email", language="en", subject="Still keen?", text="Edited {{ cta_url }}"
    )
    publish(client, english)
    form = client.get(ADD, {"kind": "lead_day3", "channel": "email", "language": "ta"})
    assert form.context["adminform"].form.initial["text"] == "Edited {{ cta_url }}"


def test_a_hindi_preview_shows_hindi_dates_and_words(editor):
    client, _ = editor
    version = add_version(
        client,
        kind="session_24h",
        channel="email",
        language="hi",
        subject="{{ day_label }}: {{ title }}",
        text="नमस्ते {{ first_name }}, समय: {{ when }}",
    )
    sample = dt.datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Kolkata"))  # the session samples' date
    hindi_when = format_when(sample, tz="Asia/Kolkata", locale=message_locale(language="hi", locale=None))
    assert re.search(r"[\u0900-\u097F]", hindi_when)  # Hindi month and weekday

    page = client.get(reverse("admin:notifications_messagetemplate_preview", args=[version.pk])).content.decode()
    assert hindi_when in page and "कल: Python Basics: Loops" in page
    assert "Wed, 25 Nov 2026" not in page and "Tomorrow" not in page

    live = client.get(reverse("admin:notifications_messagetemplate_live", args=["session_24h", "email", "hi"]))
    assert hindi_when in live.content.decode() and "Wed, 25 Nov" not in live.content.decode()


def test_the_publish_page_says_who_gets_the_new_text_and_who_keeps_theirs(editor):
    client, _ = editor
    Language.objects.create(code="ta", name="தமிழ் (Tamil)", locale="ta_IN")
    version = add_version(client, kind="session_24h", channel="email", language="en", subject="S {{ title }}", text="T")

    page = client.get(reverse("admin:notifications_messagetemplate_publish", args=[version.pk])).content.decode()

    assert "everyone sent “session_24h” by email whose language is English" in page
    assert "Hindi readers keep the shipped Hindi text." in page
    assert "Tamil readers get it too: there is no Tamil text yet." in page
    assert MessageTemplate.objects.get().status == "draft"  # a GET publishes nothing
    preview = client.get(reverse("admin:notifications_messagetemplate_preview", args=[version.pk])).content.decode()
    assert "Hindi readers keep the shipped Hindi text" in preview


def test_back_to_the_shipped_text_asks_first_needs_the_publish_permission_and_restores_the_file(editor):
    client, priya = editor
    version = add_version(client, kind="session_24h", channel="inapp", language="hi", subject="शीर्षक", text="नया")
    publish(client, version)
    url = reverse("admin:notifications_messagetemplate_unpublish", args=["session_24h", "inapp", "hi"])

    confirm = client.get(url).content.decode()
    assert "Yes, back to the shipped text" in confirm and "they get the shipped Hindi text" in confirm
    version.refresh_from_db()
    assert version.status == "published"

    writer, _ = staff("edit_message_copy")
    assert writer.post(url).status_code == 403 and writer.get(url).status_code == 403
    version.refresh_from_db()
    assert version.status == "published"

    done = client.post(url, follow=True).content.decode()
    version.refresh_from_db()
    assert (version.status, version.unpublished_by) == ("retired", priya)
    assert "no longer published" in done and ("session_24h", "inapp", "hi", "shipped") in rows(done)
    assert "Back to the shipped text by Priya Nair" in done
    live = client.get(reverse("admin:notifications_messagetemplate_live", args=["session_24h", "inapp", "hi"]))
    assert "नया" not in live.content.decode() and live.context["rendered"].version_id is None


def test_the_catalogue_needs_a_copy_permission_and_unknown_texts_are_not_found(editor):
    outsider, _ = staff("view_delivery")
    assert outsider.get(LANDING).status_code == 403
    client, _ = editor
    live = reverse("admin:notifications_messagetemplate_live", args=["session_24h", "fax", "en"])
    assert client.get(live).status_code == 404


def test_every_message_and_channel_of_the_catalogue_has_its_english_text_shipped():
    missing = [
        (kind.name, channel)
        for kind in all_kinds()
        for channel in kind.channels
        if not is_shipped(kind=kind.name, channel=channel, language="en")
    ]
    assert missing == []


def test_the_catalogue_pages_are_in_hindi_for_a_hindi_speaking_staff_member():
    client, _ = staff("edit_message_copy", "publish_message_copy", name="Sunita Rao", language="hi")
    published = add_version(client, kind="session_24h", channel="email", language="hi", subject="S", text="नया पाठ")
    publish(client, published)
    draft = add_version(client, kind="session_24h", channel="email", language="en", subject="S", text="New")
    english = [
        "Every message, on every channel",
        "Shipped with the app",
        "Back to the shipped text",
        "Edited and published",
        "Last change",
        "Who gets this text",
        "readers keep",
        "Take it off",
        "Shown with",
        " texts:",
    ]
    pages = [
        reverse("admin:notifications_messagetemplate_catalogue"),
        reverse("admin:notifications_messagetemplate_live", args=["session_24h", "email", "hi"]),
        reverse("admin:notifications_messagetemplate_unpublish", args=["session_24h", "email", "hi"]),
        reverse("admin:notifications_messagetemplate_publish", args=[draft.pk]),
    ]
    for url in pages:
        page = client.get(url).content.decode()
        assert re.search(r"[\u0900-\u097F]{4}", page), url
        assert [phrase for phrase in english if phrase in page] == [], url
    catalogue = client.get(pages[0]).content.decode()
    assert "ऐप के साथ आए पाठ पर लौटें" in catalogue and "बदला और प्रकाशित" in catalogue
    assert "यह पाठ किसे मिलेगा" in client.get(pages[3]).content.decode()
