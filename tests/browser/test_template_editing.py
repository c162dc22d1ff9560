"""A staff member edits, previews, tests and publishes the Day 3 email in the real admin, in Debian's chromium."""

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.utils import timezone

from leads.campaigns import plan_lead_follow_ups
from leads.tests.factories import LeadFactory
from lms.tests.factories import TEST_PASSWORD, StaffUserFactory
from notifications.models import Delivery, MessageTemplate
from notifications.services.dispatch import dispatch_due_deliveries

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def desktop(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def write_version(page, *, language: str, subject: str, text: str) -> None:
    page.goto("/admin/notifications/messagetemplate/add/")
    page.select_option("#id_kind", "lead_day3")
    page.select_option("#id_channel", "email")
    page.select_option("#id_language", language)
    page.fill("#id_subject", subject)
    page.fill("#id_text", text)
    page.click("input[name=_preview]")


def test_staff_edit_preview_test_and_publish_the_day3_email_in_two_languages(desktop, artifacts):
    staff = StaffUserFactory(email="priya@school.example", name="Priya Nair")
    staff.user_permissions.set(
        Permission.objects.filter(codename__in=["edit_message_copy", "publish_message_copy", "view_delivery"])
    )
    page = desktop
    page.goto("/admin/login/?next=/admin/notifications/messagetemplate/")
    page.fill("#id_username", staff.email)
    page.fill("#id_password", TEST_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/notifications/messagetemplate/")

    # A broken template is refused, and the error names the line.
    write_version(page, language="en", subject="Still with us?", text="Hi {{ first_name }},\n{{ discount_code }}")
    assert "Line 2: “discount_code” does not exist" in page.locator(".errorlist").first.inner_text()
    assert not MessageTemplate.objects.exists()

    write_version(
        page,
        language="en",
        subject="Still with us, {{ first_name }}?",
        text="Hi {{ first_name }},\n\nA new batch starts Monday: {{ cta_url }}\n\nUnsubscribe: {{ unsubscribe_url }}",
    )
    page.wait_for_url("**/preview/")
    assert page.get_by_test_id("preview-subject").inner_text() == "Still with us, Asha?"
    assert "A new batch starts Monday" in page.get_by_test_id("preview-text").inner_text()
    frame = page.frame_locator("iframe[sandbox]")
    assert "A new batch starts Monday" in frame.locator("body").inner_text()
    page.screenshot(path=str(artifacts / "admin-template-preview.png"), full_page=True)

    page.click("input[value='Send a test to me']")
    page.locator("ul.messagelist li").first.wait_for()
    assert "on its way to priya@school.example" in page.locator("ul.messagelist").inner_text()
    test = Delivery.objects.get(is_test=True)
    assert test.status == "sent" and [m.to for m in mail.outbox] == [["priya@school.example"]]

    page.click("input[value=Publish]")
    assert "is published" in page.locator("ul.messagelist").inner_text()

    write_version(
        page,
        language="hi",
        subject="अब भी साथ हैं, {{ first_name }}?",
        text="नमस्ते {{ first_name }},\n\nनया बैच सोमवार से: {{ cta_url }}\n\nसदस्यता छोड़ें: {{ unsubscribe_url }}",
    )
    page.wait_for_url("**/preview/")
    page.click("input[value=Publish]")
    assert "is published" in page.locator("ul.messagelist").inner_text()

    english = LeadFactory(contacted=True, name="Ravi Kumar")
    hindi = LeadFactory(contacted=True, name="Sunita Rao", language="hi")
    mail.outbox.clear()
    now = timezone.now()
    plan_lead_follow_ups(now=now)
    dispatch_due_deliveries(now=now)

    sent = {message.to[0]: message for message in mail.outbox}
    assert (
        sent[english.email].subject == "Still with us, Ravi?"
        and "A new batch starts Monday" in sent[english.email].body
    )
    assert sent[hindi.email].subject == "अब भी साथ हैं, Sunita?" and "नया बैच सोमवार से" in sent[hindi.email].body

    delivery = Delivery.objects.get(to_address=hindi.email, event__kind="lead_day3")
    page.goto(f"/admin/notifications/delivery/{delivery.pk}/change/")
    assert "lead_day3 Email (hi) v1" in page.locator("body").inner_text()
    page.screenshot(path=str(artifacts / "admin-delivery-template-version.png"), full_page=True)
