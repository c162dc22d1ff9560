"""A staff member finds session_24h in the catalogue, edits the English email, translates it from the
shipped Hindi text, and each student gets their own language through the real ledger (Chromium)."""

import datetime as dt
import re

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core import mail
from django.utils import timezone

from lms import reminders
from lms.tests.factories import (
    TEST_PASSWORD,
    CourseFactory,
    EnrollmentFactory,
    LiveSessionFactory,
    StaffUserFactory,
    UserFactory,
)
from notifications.copy.shipped import shipped_name
from notifications.models import Delivery, MessageTemplate
from notifications.services.dispatch import dispatch_due_deliveries

from .conftest import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
DEVANAGARI = re.compile(r"[\u0900-\u097F]")


def log_in(browser, live_server, user, **options):
    context = browser.new_context(base_url=live_server.url, **options)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", TEST_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    return context, page


def row(page, *, language: str, channel: str = "email"):
    return page.locator(
        f'[data-testid=catalogue-row][data-kind=session_24h][data-channel="{channel}"][data-language="{language}"]'
    )


def shipped_text(language: str) -> str:
    name = shipped_name(kind="session_24h", channel="email", language=language)
    return (settings.BASE_DIR / "templates" / name).read_text().strip()


def no_wider_than_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.fixture
def priya():
    staff = StaffUserFactory(email="priya@school.example", name="Priya Nair")
    staff.user_permissions.set(Permission.objects.filter(codename__in=["edit_message_copy", "publish_message_copy"]))
    return staff


def test_staff_edit_the_english_and_hindi_session_24h_emails_from_the_catalogue_and_each_student_gets_theirs(
    browser, live_server, priya, artifacts
):
    context, page = log_in(browser, live_server, priya, viewport={"width": 1280, "height": 900})

    # The admin's home page leads to the catalogue; session_24h is found with the filters.
    page.get_by_role("link", name="Message templates").first.click()
    page.get_by_test_id("catalogue").wait_for()
    page.select_option("select[name=kind]", "session_24h")
    page.click("button:has-text('Show')")
    page.wait_for_url("**/catalogue/?kind=session_24h*")
    assert row(page, language="hi").get_attribute("data-state") == "shipped"
    page.screenshot(path=str(artifacts / "copy-catalogue-desktop.png"), full_page=True)

    # English: edit from the live text, add a P.S., preview, publish (the page says who gets it).
    row(page, language="en").get_by_role("link", name="Edit").click()
    page.wait_for_url("**/add/?kind=session_24h*")
    assert page.input_value("#id_text") == shipped_text("en")
    page.fill("#id_text", page.input_value("#id_text") + "\n\nP.S. Bring your notebook.")
    page.click("input[name=_preview]")
    page.wait_for_url("**/preview/")
    audience = page.get_by_test_id("publish-audience").inner_text()
    assert "whose language is English" in audience and "Hindi readers keep the shipped Hindi text" in audience
    page.click("input[value=Publish]")
    assert "is published" in page.locator("ul.messagelist").inner_text()

    # Hindi: starts from the shipped Hindi text, previews with Hindi sample dates, is published.
    page.goto("/admin/notifications/messagetemplate/catalogue/?kind=session_24h")
    assert row(page, language="en").get_attribute("data-state") == "published"
    assert row(page, language="hi").get_attribute("data-state") == "shipped"
    row(page, language="hi").get_by_role("link", name="Edit the translation").click()
    page.wait_for_url("**/add/?kind=session_24h*language=hi*")
    hindi_text = page.input_value("#id_text")
    assert hindi_text == shipped_text("hi") and "P.S." not in hindi_text
    page.screenshot(path=str(artifacts / "copy-hindi-translation-starts-from-hindi.png"), full_page=True)
    page.fill("#id_text", hindi_text + "\n\nपुनश्च: अपनी नोटबुक साथ लाएँ।")
    page.click("input[name=_preview]")
    page.wait_for_url("**/preview/")
    preview = page.get_by_test_id("preview-text").inner_text()
    when = re.search(r"\d{1,2} \S+ 2026", preview).group(0)  # the sample date, as a Hindi reader gets it
    assert DEVANAGARI.search(when) and "Nov" not in preview and "Hi Asha" not in preview
    assert "पुनश्च" in page.frame_locator("iframe[sandbox]").locator("body").inner_text()
    page.screenshot(path=str(artifacts / "copy-hindi-preview.png"), full_page=True)
    page.click("input[value=Publish]")
    assert "is published" in page.locator("ul.messagelist").inner_text()

    page.goto("/admin/notifications/messagetemplate/catalogue/?kind=session_24h")
    assert row(page, language="hi").get_attribute("data-state") == "published"
    assert "Published v1 by Priya Nair" in row(page, language="hi").inner_text()
    context.close()

    # The students, through planning, the ledger and the email backend.
    now = timezone.now()
    course = CourseFactory()
    LiveSessionFactory(course=course, scheduled_at=now + dt.timedelta(hours=20))
    hindi = UserFactory(language="hi", name="Sunita Rao")
    english = UserFactory(name="Asha Verma")
    for student in (hindi, english):
        EnrollmentFactory(course=course, student=student)
    mail.outbox.clear()
    reminders.plan_session_reminders_24h(now=now)
    dispatch_due_deliveries(now=now)

    sent = {message.to[0]: message for message in mail.outbox}
    assert "पुनश्च: अपनी नोटबुक साथ लाएँ।" in sent[hindi.email].body and "P.S." not in sent[hindi.email].body
    assert "P.S. Bring your notebook." in sent[english.email].body and "पुनश्च" not in sent[english.email].body
    versions = {d.to_address: d.template_version for d in Delivery.objects.filter(channel="email")}
    assert versions[hindi.email].language == "hi" and versions[english.email].language == "en"

    # The edited English email keeps the shipped look on a phone: a button, nothing wider than 390 px.
    phone = browser.new_context(**PHONE)
    email = phone.new_page()
    email.set_content(sent[english.email].alternatives[0][0])
    assert email.get_by_role("link", name="Join Meeting").is_visible()
    assert no_wider_than_the_screen(email)
    email.screenshot(path=str(artifacts / "copy-edited-english-email-390.png"), full_page=True)
    phone.close()


def test_the_catalogue_on_a_phone_and_back_to_the_shipped_text_with_a_confirmation(
    browser, live_server, priya, artifacts
):
    MessageTemplate.objects.create(
        kind="session_24h",
        channel="whatsapp",
        language="hi",
        version=1,
        status="published",
        text="नमस्ते {{ first_name }}",
        published_by=priya,
        published_at=timezone.now(),
    )
    context, page = log_in(browser, live_server, priya, **PHONE)
    page.goto("/admin/notifications/messagetemplate/")
    page.get_by_test_id("catalogue").wait_for()
    assert no_wider_than_the_screen(page)
    target = row(page, language="hi", channel="whatsapp")
    assert target.get_attribute("data-state") == "published" and target.is_visible()
    target.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "copy-catalogue-phone.png"), full_page=False)

    target.get_by_role("link", name="Back to the shipped text").click()
    page.wait_for_url("**/unpublish/")
    assert "they get the shipped" in page.get_by_test_id("unpublish-summary").inner_text()
    assert no_wider_than_the_screen(page)
    page.screenshot(path=str(artifacts / "copy-unpublish-confirm-phone.png"), full_page=True)
    page.click("input[value='Yes, back to the shipped text']")
    page.wait_for_url("**/catalogue/")
    assert "no longer published" in page.locator("ul.messagelist").inner_text()
    assert row(page, language="hi", channel="whatsapp").get_attribute("data-state") == "shipped"
    assert MessageTemplate.objects.get().status == "retired"
    context.close()


def test_choosing_a_message_on_the_add_page_loads_its_live_text_and_never_replaces_what_staff_typed(
    browser, live_server, priya
):
    from playwright.sync_api import expect

    context, page = log_in(browser, live_server, priya, viewport={"width": 1280, "height": 900})
    page.goto("/admin/notifications/messagetemplate/add/")
    assert page.input_value("#id_text") != ""  # never a blank form

    page.select_option("#id_kind", "session_24h")
    page.select_option("#id_language", "hi")
    expect(page.locator("#id_text")).to_have_value(shipped_text("hi"))

    page.fill("#id_text", "My own words")
    page.select_option("#id_language", "en")
    expect(page.locator("#id_subject")).to_have_value(re.compile(r"^Starts "))  # English loaded...
    assert page.input_value("#id_text") == "My own words"  # ...but not over what was typed
    context.close()
