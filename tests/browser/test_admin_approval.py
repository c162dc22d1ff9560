"""A staff member approves a CTA submission through the real admin page, in Debian's chromium."""

import pytest
from django.contrib.auth.models import Permission
from django.core import mail

from leads.models import CTASubmission
from leads.tests.factories import CTASubmissionFactory
from lms.models import User
from lms.tests.factories import TEST_PASSWORD, StaffUserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def desktop(browser, live_server):
    """A desktop-sized page on the live server (staff use the admin at a desk)."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def test_staff_approve_a_submission_in_the_admin(desktop, artifacts, whatsapp_sent):
    staff = StaffUserFactory(email="priya@school.example", name="Priya Nair")
    staff.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="leads",
            codename__in=["approve_ctasubmission", "view_ctasubmission", "view_crmactivity"],
        )
    )
    submission = CTASubmissionFactory(name="Kabir Singh", email="kabir@example.com", status="pending")
    page = desktop

    page.goto("/admin/login/?next=/admin/leads/ctasubmission/")
    page.fill("#id_username", staff.email)
    page.fill("#id_password", TEST_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/leads/ctasubmission/")

    page.check(f"input[name=_selected_action][value='{submission.pk}']")
    page.select_option("select[name=action]", "approve_with_call")
    page.click("button[name=index]")
    message = page.locator("ul.messagelist li").first
    message.wait_for()
    page.screenshot(path=str(artifacts / "admin-cta-approved.png"), full_page=True)

    assert "Kabir Singh: approved. Account kabir@example.com created, welcome email sent" in message.inner_text()
    submission.refresh_from_db()
    assert submission.status == CTASubmission.Status.APPROVED
    assert User.objects.filter(email="kabir@example.com").count() == 1
    assert [m.subject for m in mail.outbox if m.to == ["kabir@example.com"]] == ["Welcome Aboard! 🎉"]

    page.goto(f"/admin/leads/ctasubmission/{submission.pk}/change/")
    assert "Welcome email with a set-password link queued." in page.content()
