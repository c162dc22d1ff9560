"""The student's preferences page, where WhatsApp consent is given, at 1280 and 390 px: one
consent model shown one way, every label readable, and consent saved from a phone."""

import re

import pytest
from playwright.sync_api import expect

from lms.tests.factories import TEST_PASSWORD, UserFactory
from notifications.models import WhatsAppConsent

from .test_student_journey import assert_fits_a_phone, wait_for_styles

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


def open_preferences(page, user):
    page.goto("/accounts/login/?next=/preferences/")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/preferences/$"))
    wait_for_styles(page)


def label_widths(page) -> dict[str, int]:
    """The width of each consent question's text, as laid out."""
    return page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('[data-testid=whatsapp-choices] label span')]
            .map(span => [span.textContent.trim().slice(0, 40), Math.round(span.getBoundingClientRect().width)]))"""
    )


@pytest.mark.parametrize("width", [1280, 390])
def test_the_consent_section_reads_one_way_at_both_widths(browser, live_server, artifacts, width):
    # The flag says on, but no consent was ever recorded (an account from before the records).
    student = UserFactory(name="Asha Verma", phone="+919876543210", whatsapp_opt_in=True)
    options = DESKTOP if width == 1280 else {"viewport": {"width": 390, "height": 844}, "is_mobile": True}
    context = browser.new_context(base_url=live_server.url, **options)
    page = context.new_page()
    open_preferences(page, student)
    page.screenshot(path=artifacts / f"preferences-consent-{width}.png", full_page=True)
    status = page.get_by_test_id("whatsapp-status").inner_text()
    consents = page.get_by_test_id("whatsapp-consents").inner_text()
    # Reminders: on, and the record says why it is on rather than "never given".
    assert "WhatsApp is on for +919876543210" in status
    assert "Never given" not in consents.split("Offers and news")[0]
    # Offers: the only control is the consent question, and it agrees with the record.
    expect(page.get_by_label("Offers and news by WhatsApp")).to_have_count(0)
    expect(page.get_by_label("Also send me offers and news on WhatsApp.")).not_to_be_checked()
    assert "Never given" in consents.split("Offers and news")[1]
    narrow = {text: px for text, px in label_widths(page).items() if px < 150}
    assert not narrow, f"labels squeezed at {width}px: {narrow}"
    if width == 390:
        assert_fits_a_phone(page)
    context.close()


def test_a_student_gives_whatsapp_consent_on_a_phone(browser, live_server, artifacts):
    student = UserFactory(name="Ravi Kumar", phone="+919812345678", whatsapp_opt_in=False)
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    open_preferences(page, student)
    expect(page.get_by_test_id("whatsapp-status")).to_contain_text("WhatsApp is off")
    page.get_by_label("Yes, send me class and payment reminders on WhatsApp").check()
    page.get_by_label("Also send me offers and news on WhatsApp.").check()
    assert_fits_a_phone(page)
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_text("Your preferences are saved.")).to_be_visible()
    expect(page.get_by_test_id("whatsapp-status")).to_contain_text("WhatsApp is on for +919812345678")
    expect(page.get_by_label("Also send me offers and news on WhatsApp.")).to_be_checked()
    page.screenshot(path=artifacts / "preferences-consent-saved-390.png", full_page=True)
    consents = page.get_by_test_id("whatsapp-consents").inner_text()
    assert consents.count("Given on") == 2 and "Never given" not in consents
    student.refresh_from_db()
    assert student.whatsapp_opt_in
    given = dict(WhatsAppConsent.objects.filter(address="+919812345678").values_list("category", "given"))
    assert given == {"utility": True, "marketing": True}
    context.close()
