"""A staff member approves a CTA submission through the real admin page, in Debian's chromium."""

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core import mail

from leads.models import CTASubmission
from lms.models import User
from lms.tests.factories import TEST_PASSWORD, StaffUserFactory

from .factories import CTASubmissionFactory

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_page():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; .ci/run installs Debian's chromium.")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            yield page
        finally:
            browser.close()


def test_staff_approve_a_submission_in_the_admin(live_server, browser_page, whatsapp_sent):
    staff = StaffUserFactory(email="priya@school.example", name="Priya Nair")
    staff.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="leads",
            codename__in=["approve_ctasubmission", "view_ctasubmission", "view_crmactivity"],
        )
    )
    submission = CTASubmissionFactory(name="Kabir Singh", email="kabir@example.com", status="pending")
    page = browser_page

    page.goto(f"{live_server.url}/admin/login/?next=/admin/leads/ctasubmission/")
    page.fill("#id_username", staff.email)
    page.fill("#id_password", TEST_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/leads/ctasubmission/")

    page.check(f"input[name=_selected_action][value='{submission.pk}']")
    page.select_option("select[name=action]", "approve_with_call")
    page.click("button[name=index]")
    message = page.locator("ul.messagelist li").first
    message.wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "admin-cta-approved.png"), full_page=True)

    assert "Kabir Singh: approved. Account kabir@example.com created, welcome email sent" in message.inner_text()
    submission.refresh_from_db()
    assert submission.status == CTASubmission.Status.APPROVED
    assert User.objects.filter(email="kabir@example.com").count() == 1
    assert [m.subject for m in mail.outbox if m.to == ["kabir@example.com"]] == ["Welcome Aboard! 🎉"]

    page.goto(f"{live_server.url}/admin/leads/ctasubmission/{submission.pk}/change/")
    assert "Welcome email with a set-password link queued." in page.content()
