"""In Debian's chromium, under the real Content-Security-Policy: staff and student pages load with no violation."""

import pytest

from leads.tests.factories import CTASubmissionFactory
from lms.tests.factories import TEST_PASSWORD, EnrollmentFactory, LiveSessionFactory, StaffUserFactory, UserFactory
from tests.browser.conftest import browser  # noqa: F401  (the chromium fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Every violation the page reports, from its first script on (an init script is not subject to the policy).
LISTEN = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) =>
    window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""


@pytest.fixture
def page(browser, live_server):  # noqa: F811
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
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


def log_in(page, url, email):
    page.goto(url)
    page.fill("#id_username", email)
    page.fill("#id_password", TEST_PASSWORD)
    page.click("[type=submit]")
    page.wait_for_load_state("load")


def test_the_cta_page_loads_and_submits_without_a_violation(page):
    page.goto("/start/")
    assert page.locator("form").count() >= 1
    assert violations(page) == []
    # The honeypot stays out of sight: its style attribute is allowed (style-src-attr).
    honeypot = page.locator("input[name=website]")
    if honeypot.count():
        box = honeypot.bounding_box()
        assert box is None or box["x"] < 0


def test_the_student_dashboard_loads_without_a_violation(page):
    student = UserFactory(email="meera@example.com")
    LiveSessionFactory(course=EnrollmentFactory(student=student).course, title="Pandas Live")
    log_in(page, "/accounts/login/", student.email)
    page.wait_for_url("**/")
    assert "Pandas Live" in page.content()
    assert violations(page) == []
    for url in ("/notifications/", "/preferences/"):
        page.goto(url)
        assert violations(page) == [], url


def test_the_admin_works_under_the_policy(page):
    admin = StaffUserFactory(email="root@school.example", superuser=True)
    submission = CTASubmissionFactory(name="Kabir Singh", email="kabir@example.com", status="pending")
    log_in(page, "/admin/login/?next=/admin/leads/ctasubmission/", admin.email)
    page.wait_for_url("**/admin/leads/ctasubmission/")
    assert violations(page) == []

    # The change list's JavaScript runs: ticking a row updates the action counter.
    page.check(f"input[name=_selected_action][value='{submission.pk}']")
    page.locator(".action-counter").filter(has_text="1 of 1 selected").wait_for()

    for url in (
        "/admin/",
        "/admin/notifications/delivery/",
        f"/admin/leads/ctasubmission/{submission.pk}/change/",
        "/admin/lms/user/add/",
        "/admin/axes/accessattempt/",
        "/admin/automation/jobs/",
    ):
        page.goto(url)
        assert violations(page) == [], url


def test_an_injected_inline_script_is_refused_and_seen(page):
    page.goto("/start/")
    page.evaluate(
        """document.body.insertAdjacentHTML('beforeend', '<img src="/static/site.css" onerror="window.__ran = 1">');"""
    )
    page.wait_for_function("window.__violations.length > 0")
    assert page.evaluate("window.__ran") is None
    assert any(v.startswith("script-src") for v in violations(page))
