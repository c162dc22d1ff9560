"""A new student on a phone (390 px), under the real Content-Security-Policy: her profile and her courses."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from leads.forms import WHATSAPP_WORDING
from lms.tests.factories import (
    AssignmentFactory,
    CourseFactory,
    EnrollmentFactory,
    LiveSessionFactory,
    RecordingFactory,
    UserFactory,
)
from tests.browser.test_student_journey import assert_fits_a_phone
from tests.security.test_csp_browser import LISTEN

from .conftest import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(browser, live_server):
    """A phone-sized page that records every Content-Security-Policy violation."""
    context = browser.new_context(base_url=live_server.url, **PHONE)
    context.set_default_timeout(10_000)
    context.add_init_script(LISTEN)
    page = context.new_page()
    page.refused = []
    page.on("console", lambda message: "Content Security Policy" in message.text and page.refused.append(message.text))
    yield page
    context.close()


def violations(page) -> list[str]:
    page.wait_for_load_state("load")
    return page.evaluate("window.__violations") + page.refused


def test_a_new_student_completes_her_profile_and_finds_her_course_on_a_phone(
    page, live_server, artifacts, whatsapp_sent
):
    from lms.tests.factories import TEST_PASSWORD

    now = timezone.now()
    student = UserFactory(name="Meera Phone", email="meera@example.com", phone="", whatsapp_opt_in=False)
    course = CourseFactory(title="Python for Data Analysis")
    EnrollmentFactory(student=student, course=course)
    LiveSessionFactory(course=course, title="Pandas: Cleaning Messy Data", scheduled_at=now + dt.timedelta(hours=20))
    RecordingFactory(session__course=course, session__title="NumPy Fundamentals")
    AssignmentFactory(course=course, title="Clean the Sales Dataset", deadline=now + dt.timedelta(hours=30))

    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(student.email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Hi Meera")).to_be_visible()

    # The header's Profile link; the consent box in the words she agreed to on the sign-up form.
    page.get_by_test_id("profile-link").click()
    expect(page.get_by_role("heading", name="Your profile")).to_be_visible()
    assert_fits_a_phone(page)
    assert violations(page) == []
    page.screenshot(path=artifacts / "profile-phone.png", full_page=True)
    page.get_by_label("Mobile number").fill("98765 43210")
    page.get_by_label(WHATSAPP_WORDING).check()
    page.get_by_label("Your time zone").select_option("Asia/Dubai")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Your profile is saved.")).to_be_visible()
    # The number joins her account once she enters the code WhatsApp brought her.
    card = page.get_by_test_id("phone-code")
    expect(card).to_contain_text("We sent a code to +919876543210 on WhatsApp.")
    expect(card.get_by_role("heading", name="Verify your new number")).to_be_visible()
    assert_fits_a_phone(page)
    assert violations(page) == []
    page.screenshot(path=artifacts / "profile-phone-code.png", full_page=True)
    student.refresh_from_db()
    assert (student.phone, student.whatsapp_opt_in, student.timezone) == ("", False, "Asia/Dubai")
    (message,) = [message for message in whatsapp_sent if message.to == "+919876543210"]
    card.get_by_label("Code").fill(re.search(r"\b(\d{6})\b", message.body).group(1))
    card.get_by_role("button", name="Verify number").click()
    expect(page.get_by_role("status")).to_contain_text("Your number +919876543210 is verified.")
    expect(page.get_by_test_id("phone-code")).to_have_count(0)
    assert violations(page) == []
    student.refresh_from_db()
    assert (student.phone, student.whatsapp_opt_in, student.timezone) == ("+919876543210", True, "Asia/Dubai")
    # India first in the picker, the zone she chose still chosen.
    first_group = page.locator("select[name=timezone] optgroup").first
    expect(first_group).to_have_attribute("label", "India")
    expect(page.get_by_label("Your time zone")).to_have_value("Asia/Dubai")

    # My courses: the next session with its join link, the recording, the assignment.
    page.get_by_role("link", name="My courses").click()
    card = page.get_by_test_id("course")
    expect(card.get_by_role("heading", name="Python for Data Analysis")).to_be_visible()
    expect(card.get_by_test_id("next-session")).to_contain_text("Pandas: Cleaning Messy Data")
    expect(card.get_by_role("link", name="Watch")).to_be_visible()
    expect(card.get_by_role("link", name="Clean the Sales Dataset")).to_be_visible()
    assert_fits_a_phone(page)
    assert violations(page) == []
    page.screenshot(path=artifacts / "courses-phone.png", full_page=True)

    # The main navigation fits the phone's width: no link hides behind a sideways scroll.
    hidden = page.evaluate(
        """() => [...document.querySelectorAll('.site-nav a')]
            .filter(a => a.getBoundingClientRect().right > window.innerWidth + 0.5).map(a => a.textContent)"""
    )
    assert hidden == []
