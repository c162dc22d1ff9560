"""Staff on a 1280-px screen: the CTA submissions list fits, and a sent email's HTML shows under the CSP."""

import pytest
from django.core import mail
from playwright.sync_api import expect

from leads.onboarding import approve_cta_submission
from leads.tests.factories import CTASubmissionFactory
from lms.tests.factories import TEST_PASSWORD, StaffUserFactory, UserFactory
from notifications.models import Delivery
from tests.security.test_csp_browser import LISTEN

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
LAPTOP = {"width": 1280, "height": 800}


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport=LAPTOP)
    context.set_default_timeout(10_000)
    context.add_init_script(LISTEN)
    page = context.new_page()
    page.refused = []
    page.on("console", lambda message: "Content Security Policy" in message.text and page.refused.append(message.text))
    yield page
    context.close()


@pytest.fixture
def staff(page):
    admin = StaffUserFactory(email="priya.nair@school.example", name="Priya Nair", superuser=True)
    page.goto("/admin/login/")
    page.fill("#id_username", admin.email)
    page.fill("#id_password", TEST_PASSWORD)
    page.click("[type=submit]")
    page.wait_for_url("**/admin/")
    return admin


def violations(page) -> list[str]:
    page.wait_for_load_state("load")
    return page.evaluate("window.__violations") + page.refused


def test_the_cta_submissions_list_fits_a_1280_px_screen(page, staff, artifacts):
    UserFactory(email="existing.student@example.com")
    StaffUserFactory(email="coach@school.example")
    people = [
        ("Karan Malhotra", "karan.malhotra@example.com", "+919811122233", True),
        ("Ananya Ghosh", "ananya.ghosh@example.com", "", False),
        ("Daniel Okafor", "daniel.okafor@example.com", "+447911123457", False),
        ("Existing Student", "existing.student@example.com", "+919812345678", True),
        ("Coach Someone", "coach@school.example", "", False),
        ("Venkatanarasimharajuvaripeta Subramaniam", "venkatanarasimharajuvaripeta.s@example.com", "", True),
    ]
    for name, email, phone, opt_in in people:
        CTASubmissionFactory(name=name, email=email, phone=phone, whatsapp_opt_in=opt_in, status="pending")
    approved = CTASubmissionFactory(name="Rohan Mehta", email="rohan.mehta@example.com", status="pending")
    approve_cta_submission(submission=approved, approved_by=staff)

    page.goto("/admin/leads/ctasubmission/")
    expect(page.locator("#result_list")).to_be_visible()
    page.wait_for_function("[...document.styleSheets].every(sheet => sheet.cssRules !== null)")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    table = page.evaluate("document.querySelector('#result_list').getBoundingClientRect().right")
    page.screenshot(path=artifacts / "admin-cta-submissions-1280.png", full_page=True)
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"
    assert table <= LAPTOP["width"], f"the table ends at {table}px"
    # What staff decide on is on screen: who, whether an account exists, the status.
    headers = page.locator("#result_list thead th").all_inner_texts()
    assert {"NAME AND EMAIL", "ACCOUNT", "STATUS"} <= {header.strip().upper() for header in headers}
    assert violations(page) == []


def test_a_sent_emails_html_part_shows_in_a_sandboxed_frame(page, staff):
    submission = CTASubmissionFactory(name="Kabir Singh", email="kabir@example.com", status="pending")
    approve_cta_submission(submission=submission, approved_by=staff)  # commits: the welcome is sent
    assert any(message.to == ["kabir@example.com"] for message in mail.outbox)
    delivery = Delivery.objects.get(event__kind="welcome", channel="email")

    page.goto(f"/admin/notifications/delivery/{delivery.pk}/change/")
    frame = page.frame_locator("[data-testid=sent-html]")
    expect(frame.get_by_text("Welcome to")).to_be_visible()
    expect(frame.get_by_role("link", name="Complete your profile")).to_be_visible()
    assert page.locator("[data-testid=sent-html]").get_attribute("sandbox") == ""
    assert violations(page) == []
