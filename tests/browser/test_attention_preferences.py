"""Issue 30: a student sets their quiet hours and the digest's hour on the preferences page, on a phone."""

import datetime as dt

import pytest
from playwright.sync_api import expect

from lms.tests.factories import UserFactory
from notifications.models import AttentionPreference

from .test_student_journey import assert_fits_a_phone, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_student_sets_quiet_hours_and_the_digest_hour_at_390px(phone, artifacts):
    student = UserFactory(name="Asha Verma", email="asha@example.com")
    log_in(phone, student)
    phone.goto("/preferences/")
    section = phone.get_by_test_id("attention")
    expect(section.get_by_label("Quiet from")).to_have_value("21:00")  # the site's default
    expect(section.get_by_label("Quiet until")).to_have_value("08:00")
    section.get_by_label("Quiet from").fill("22:30")
    section.get_by_label("Quiet until").fill("07:00")
    section.get_by_label("Daily digest at").select_option("19:00")
    assert_fits_a_phone(phone)
    phone.screenshot(path=str(artifacts / "attention-preferences-390.png"), full_page=True)
    section.get_by_role("button", name="Save quiet hours").click()
    expect(phone.get_by_text("Your quiet hours and digest hour are saved.")).to_be_visible()
    saved = AttentionPreference.objects.get(user=student)
    assert (saved.quiet_start, saved.quiet_end, saved.digest_hour) == (dt.time(22, 30), dt.time(7), 19)
    expect(phone.get_by_test_id("attention").get_by_label("Quiet from")).to_have_value("22:30")
    # Both ends or neither: the page says so and keeps what was saved.
    section = phone.get_by_test_id("attention")
    section.get_by_label("Quiet until").fill("")
    section.get_by_role("button", name="Save quiet hours").click()
    expect(phone.get_by_text("Give both ends of your quiet hours, or neither for ours.")).to_be_visible()
    assert_fits_a_phone(phone)
    assert AttentionPreference.objects.get(user=student).quiet_end == dt.time(7)
