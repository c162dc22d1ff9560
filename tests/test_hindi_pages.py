"""A Hindi-speaking student reads every page, flash message and form error in Hindi, and one moment
reads the same on every page, in her language (and in English for an English reader)."""

import datetime as dt
import re

import pytest
import time_machine
from django.core import mail
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from common.formatting import format_when, reader_locale
from leads.tests.factories import LeadFactory
from lms.accounts import set_password_url
from lms.tests.factories import UserFactory
from lms.tests.links import open_link
from notifications.models import Notification, WhatsAppConsent
from notifications.services.consent import record_whatsapp_consent
from notifications.services.dispatch import dispatch_due_deliveries
from tests.hindi import (
    PAGE_MODULES,
    PAGE_TEMPLATES,
    build_student_world,
    english_words,
    untranslated,
    used_msgids,
)

pytestmark = pytest.mark.django_db
DEVANAGARI = re.compile(r"[\u0900-\u097F]")


def test_every_string_the_student_pages_use_has_a_hindi_translation_in_the_compiled_catalogue():
    used = used_msgids()
    # The extraction reads what it should: the pages' own strings, the forms' and the flash messages.
    assert {"Upcoming sessions", "Submitted", "Your preferences are saved.", "starts %(time)s"} <= set(used)
    assert len(PAGE_TEMPLATES) > 25 and len(PAGE_MODULES) >= 10
    assert untranslated(used) == []


@pytest.fixture
def world():
    return build_student_world()


@pytest.fixture
def hindi(world) -> Client:
    client = Client()
    client.force_login(world["student"])
    return client


def student_pages(world) -> list[str]:
    notification = Notification.objects.filter(user=world["student"]).first()
    return [
        reverse("lms:dashboard"),
        reverse("lms:courses"),
        reverse("lms:assignment", args=[world["open_assignment"].pk]),
        reverse("lms:assignment", args=[world["submitted"].pk]),
        reverse("notifications:list"),
        reverse("notifications:open", args=[notification.pk]),
        reverse("notifications:preferences"),
        reverse("lms:profile"),
        reverse("password_change"),
        reverse("password_change_done"),
    ]


def test_every_page_of_a_hindi_student_is_hindi_throughout(world, hindi):
    for path in student_pages(world):
        response = hindi.get(path)
        page = response.content.decode()
        assert response.status_code == 200, path
        assert 'lang="hi"' in page and DEVANAGARI.search(page), path
        assert english_words(page, data=world["data"]) == [], path


def test_the_assignment_chips_and_the_preferences_grid_are_hindi(world, hindi):
    dashboard = hindi.get(reverse("lms:dashboard")).content.decode()
    assert "जमा किया गया" in dashboard and "समय निकल गया" in dashboard and ">Submitted<" not in dashboard
    preferences = hindi.get(reverse("notifications:preferences")).content.decode()
    assert "क्लास के रिमाइंडर और कोर्स की जानकारी" in preferences and "भुगतान के रिमाइंडर" in preferences
    assert f"{world['student'].phone} के लिए WhatsApp <strong>चालू</strong> है।" in preferences
    assert "WhatsApp is" not in preferences and "Class reminders" not in preferences
    # The consent's "how" is said in Hindi too (the ledger keeps staff's English).
    assert "जिस फ़ॉर्म से आपने साइन अप किया" in preferences and "CTA form" not in preferences


def test_the_time_zone_list_names_places_in_hindi(hindi):
    page = hindi.get(reverse("lms:profile")).content.decode()
    assert ">भारत (कोलकाता)</option>" in page and ">लंदन</option>" in page and 'label="यूरोप"' in page
    assert 'value="Europe/London"' in page  # what is saved stays the tz database's name


def test_relative_times_on_the_notifications_page_are_hindi_and_live(world, hindi):
    with time_machine.travel(world["now"] + dt.timedelta(minutes=2), tick=False):
        page = hindi.get(reverse("notifications:list")).content.decode()
    # The starting-soon text is put in words when shown, not frozen when planned ("in 10 minutes" forever).
    assert "8 मिनट में शुरू होगा। अभी जुड़ें।" in page
    assert "2 मिनट पहले" in page  # when each notification came, in Hindi too
    with time_machine.travel(world["now"] + dt.timedelta(minutes=48), tick=False):
        page = hindi.get(reverse("notifications:list")).content.decode()
    assert "38 मिनट पहले शुरू हुआ। अभी जुड़ें।" in page and "मिनट में शुरू होगा। अभी" not in page
    assert "ago" not in page and "minutes" not in page and "[[" not in page


def test_flash_messages_and_form_errors_are_hindi(world, hindi):
    response = hindi.post(reverse("lms:assignment", args=[world["open_assignment"].pk]), {"text": ""})
    assert "उत्तर लिखें या फ़ाइल जोड़ें।" in response.content.decode()

    response = hindi.post(
        reverse("lms:assignment", args=[world["open_assignment"].pk]), {"text": "Done: my notebook"}, follow=True
    )
    assert f"“{world['open_assignment'].title}” जमा हो गया। शाबाश!" in response.content.decode()

    response = hindi.post(reverse("notifications:mark_all_read"), follow=True)
    assert re.search(r"\d+ सूचनाएँ पढ़ी हुई मार्क की गईं।", response.content.decode())

    form = {"whatsapp_opt_in": "yes", "phone": "", "timezone": "Asia/Kolkata"}
    response = hindi.post(reverse("notifications:preferences"), form)
    assert "WhatsApp पर संदेश पाने के लिए अपना मोबाइल नंबर जोड़ें।" in response.content.decode()
    form["phone"] = world["student"].phone
    response = hindi.post(reverse("notifications:preferences"), form, follow=True)
    page = response.content.decode()
    assert "आपकी पसंद सहेज ली गई है।" in page and english_words(page, data=world["data"]) == []


def test_visitor_pages_are_hindi_for_a_hindi_browser(world):
    visitor = Client(HTTP_ACCEPT_LANGUAGE="hi")
    pages = {
        "login": visitor.get(reverse("login")),
        "password reset": visitor.get(reverse("password_reset")),
        "reset sent": visitor.get(reverse("password_reset_done")),
        "reset complete": visitor.get(reverse("password_reset_complete")),
        "reset link invalid": visitor.get(reverse("password_reset_confirm", args=["MQ", "bad-token"])),
        "set-password link invalid": visitor.get(reverse("set_password", args=["MQ", "bad-token"]), follow=True),
        "new link sent": visitor.post(reverse("set_password_new_link"), {"email": "nobody@example.com"}),
        "CTA": visitor.get(reverse("leads:cta")),
        "CTA errors": visitor.post(reverse("leads:cta"), {"name": "", "email": "x", "whatsapp_opt_in": "on"}),
        "CTA thanks": visitor.post(
            reverse("leads:cta"), {"name": "Ravi Kumar", "email": "ravi@example.com"}, follow=True
        ),
        "unsubscribe invalid": visitor.get(reverse("notifications:unsubscribe", args=["not-a-token"])),
    }
    with translation.override("hi"):
        throttled = render_to_string("throttled.html")
    data = (*world["data"], "Ravi Kumar")
    for name, response in pages.items():
        page = response.content.decode()
        assert 'lang="hi"' in page and english_words(page, data=data) == [], name
    assert english_words(throttled) == [] and "बहुत ज़्यादा अनुरोध" in throttled
    assert "धन्यवाद, Ravi Kumar!" in pages["CTA thanks"].content.decode()
    assert "WhatsApp संदेश पाने के लिए अपना फ़ोन नंबर जोड़ें।" in pages["CTA errors"].content.decode()


def test_the_unsubscribe_pages_of_a_hindi_lead_are_hindi():
    lead = LeadFactory(contacted=True, name="Ravi Kumar", language="hi")
    from leads.campaigns import plan_lead_follow_ups

    plan_lead_follow_ups(now=timezone.now())
    dispatch_due_deliveries(now=timezone.now())
    message = next(message for message in mail.outbox if message.to == [lead.email])
    path = message.extra_headers["List-Unsubscribe"].strip("<>").split("://", 1)[1].split("/", 1)[1]
    visitor = Client(HTTP_ACCEPT_LANGUAGE="hi")
    confirm = visitor.get(f"/{path}").content.decode()
    done = visitor.post(f"/{path}").content.decode()
    for page in (confirm, done):
        assert english_words(page, data=(lead.email,)) == []
    assert "सदस्यता छोड़ें?" in confirm and "आपकी सदस्यता छूट गई है" in done
    # The email's own unsubscribe line is Hindi too.
    html = message.alternatives[0].content
    assert "सदस्यता छोड़ें" in html and "from these emails" not in html


def test_the_set_password_page_speaks_the_students_language_whatever_the_browser_says(world):
    visitor = Client(HTTP_ACCEPT_LANGUAGE="en")
    link = set_password_url(user=world["student"]).removeprefix("https://school.example")
    path = link.partition("#")[0]
    first = visitor.get(path).content.decode()  # the link's own page, which posts the token from the fragment
    assert english_words(first, data=world["data"]) == []
    text = open_link(visitor, link).content.decode()
    assert "अपना पासवर्ड चुनें" in text and english_words(text, data=world["data"]) == []


@pytest.mark.parametrize(("language", "expected_locale"), [("hi", "hi_IN"), ("en", "en_IN")])
def test_one_moment_reads_the_same_on_the_dashboard_notifications_and_preferences(language, expected_locale):
    world = build_student_world(language=language)
    student, session = world["student"], world["tomorrow"]
    # Her consent was recorded at the very moment the session starts: one moment, three pages.
    record_whatsapp_consent(
        address=student.phone,
        category=WhatsAppConsent.Category.MARKETING,
        given=True,
        source="preferences page",
        user=student,
        at=session.scheduled_at,
    )
    expected = format_when(
        session.scheduled_at, tz=student.timezone, locale=reader_locale(language=language, locale=student.locale)
    )
    assert reader_locale(language=language, locale=student.locale) == expected_locale
    assert bool(DEVANAGARI.search(expected)) is (language == "hi")
    client = Client()
    client.force_login(student)
    for path in (reverse("lms:dashboard"), reverse("notifications:list"), reverse("notifications:preferences")):
        page = client.get(path).content.decode()
        assert expected in page, path
    # The ledger's email and WhatsApp carry the very same words.
    dispatch_due_deliveries(now=timezone.now())
    assert any(expected in message.body for message in mail.outbox if message.to == [student.email])


def test_an_english_students_pages_stay_english():
    world = build_student_world(language="en", name="Asha Verma")
    client = Client()
    client.force_login(world["student"])
    for path in student_pages(world):
        page = client.get(path).content.decode()
        assert not DEVANAGARI.search(page.replace("हिन्दी (Hindi)", "")), path


def test_a_hindi_visitor_on_a_page_for_hindi_students_keeps_her_account_language():
    student = UserFactory(language="hi")
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(student)
    assert 'lang="hi"' in client.get(reverse("lms:dashboard")).content.decode()
