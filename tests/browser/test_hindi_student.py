"""A Hindi-speaking student on a phone (390 px), in Chromium: every page Hindi, one date format, no overflow."""

import datetime as dt

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from common.formatting import format_when, reader_locale
from lms.accounts import set_password_url
from lms.tests.factories import TEST_PASSWORD
from notifications.models import Notification
from tests.hindi import build_student_world, english_words

from .conftest import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def hindi_phone(browser, live_server):
    """A phone-sized page whose browser asks for Hindi (Accept-Language: hi-IN)."""
    context = browser.new_context(base_url=live_server.url, locale="hi-IN", **PHONE)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def check_hindi(page, name: str, artifacts, *, data=()) -> str:
    """Screenshot the page, and check it is Hindi throughout and fits the phone's width; return its text."""
    page.screenshot(path=str(artifacts / f"hindi-{name}.png"), full_page=True)
    assert page.evaluate("document.documentElement.lang") == "hi", name
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"{name} overflows"
    # What a reader sees: a closed list shows its chosen option only (the time zone list names every
    # place on earth; tests/test_hindi_pages.py checks its names are Hindi).
    text = page.evaluate(
        """() => {
            const body = document.body.cloneNode(true);
            body.querySelectorAll("option:not([selected])").forEach((option) => option.remove());
            document.documentElement.appendChild(body);
            const text = body.innerText;
            body.remove();
            return text;
        }"""
    )
    assert english_words(page.title() + "\n" + text, data=data) == [], name
    return text


def test_a_hindi_student_reads_every_page_in_hindi_with_one_date_format(hindi_phone, artifacts):
    page = hindi_phone
    world = build_student_world(name="Sunita Rao")
    student, data = world["student"], world["data"]
    when = format_when(
        world["tomorrow"].scheduled_at,
        tz=student.timezone,
        locale=reader_locale(language=student.language, locale=student.locale),
    )

    page.goto(reverse("login"))
    check_hindi(page, "login", artifacts)
    page.get_by_label("ईमेल पता").fill(student.email)
    page.get_by_label("पासवर्ड").fill(TEST_PASSWORD)
    page.get_by_role("button", name="लॉग इन").click()
    expect(page.get_by_role("heading", name="नमस्ते Sunita")).to_be_visible()
    dashboard = check_hindi(page, "dashboard", artifacts, data=data)
    assert when in dashboard and "जमा किया गया" in dashboard

    page.get_by_role("link", name="मेरे कोर्स").click()
    check_hindi(page, "courses", artifacts, data=data)
    page.goto(reverse("lms:assignment", args=[world["open_assignment"].pk]))
    check_hindi(page, "assignment", artifacts, data=data)
    page.get_by_label("आपका उत्तर").fill("Done: my notebook")
    page.get_by_role("button", name="असाइनमेंट जमा करें").click()
    expect(page.get_by_role("status")).to_contain_text("जमा हो गया। शाबाश!")
    check_hindi(page, "submitted-flash", artifacts, data=(*data, "Done: my notebook"))

    page.goto(reverse("notifications:list"))
    notifications = check_hindi(page, "notifications", artifacts, data=data)
    # The in-app reminder says its time in words when shown, and the session's time as every page does.
    assert "मिनट में शुरू होगा" in notifications and when in notifications
    note = Notification.objects.filter(user=student, kind="session_24h").get()
    page.goto(reverse("notifications:open", args=[note.pk]))
    check_hindi(page, "notification", artifacts, data=data)

    page.goto(reverse("notifications:preferences"))
    check_hindi(page, "preferences", artifacts, data=data)
    page.get_by_role("button", name="पसंद सहेजें").click()
    expect(page.get_by_role("status")).to_contain_text("आपकी पसंद सहेज ली गई है।")
    check_hindi(page, "preferences-saved", artifacts, data=data)

    page.goto(reverse("lms:profile"))
    check_hindi(page, "profile", artifacts, data=data)
    page.goto(reverse("password_change"))
    check_hindi(page, "password-change", artifacts, data=data)


def test_visitor_pages_in_hindi_on_a_phone(hindi_phone, artifacts, live_server):
    page = hindi_phone
    world = build_student_world(name="Sunita Rao")

    page.goto(reverse("leads:cta"))
    check_hindi(page, "cta", artifacts)
    page.get_by_label("नाम").fill("Ravi Kumar")
    page.get_by_label("ईमेल").fill("ravi@example.com")
    page.get_by_role("button", name="भेजें").click()
    expect(page.get_by_role("heading", name="धन्यवाद, Ravi Kumar!")).to_be_visible()
    check_hindi(page, "cta-thanks", artifacts, data=("Ravi Kumar",))

    page.goto(reverse("password_reset"))
    check_hindi(page, "password-reset", artifacts)
    page.goto(reverse("notifications:unsubscribe", args=["not-a-token"]))
    check_hindi(page, "unsubscribe-invalid", artifacts)

    # Her set-password link opens in her language, even in a browser that asks for English.
    context = page.context.browser.new_context(base_url=live_server.url, locale="en-GB", **PHONE)
    link = set_password_url(user=world["student"])
    context.new_page().goto("/" + link.split("://", 1)[1].split("/", 1)[1])
    check_hindi(context.pages[0], "set-password", artifacts, data=world["data"])
    context.close()


def test_the_starting_soon_notification_counts_down_in_hindi(hindi_phone, artifacts):
    import time_machine

    page = hindi_phone
    world = build_student_world(name="Sunita Rao")
    page.goto(reverse("login"))
    page.get_by_label("ईमेल पता").fill(world["student"].email)
    page.get_by_label("पासवर्ड").fill(TEST_PASSWORD)
    page.get_by_role("button", name="लॉग इन").click()
    with time_machine.travel(world["now"] + dt.timedelta(minutes=48), tick=False):
        page.goto(reverse("notifications:list"))
        text = check_hindi(page, "notifications-later", artifacts, data=world["data"])
    assert "38 मिनट पहले शुरू हुआ" in text
