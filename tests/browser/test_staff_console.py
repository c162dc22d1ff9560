"""A staff member opens the dashboard, reads last week's sends, failures and WhatsApp cost per channel,
opens tomorrow's outbox and holds one session's reminders: at 1280 px and at 390 px, under the CSP."""

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from playwright.sync_api import expect

from lms import reminders
from lms.tests.factories import (
    TEST_PASSWORD,
    CourseFactory,
    EnrollmentFactory,
    LiveSessionFactory,
    StaffUserFactory,
    UserFactory,
)
from lms.wanted import session_event_key
from notifications.models import Delivery, DeliveryEvent
from notifications.tests.factories import DeliveryFactory
from tests.browser.conftest import PHONE
from tests.security.test_csp_browser import LISTEN

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
Status = Delivery.Status
SIZES = {"1280": {"viewport": {"width": 1280, "height": 900}}, "390": PHONE}


@pytest.fixture(params=sorted(SIZES))
def page(request, browser, live_server):
    context = browser.new_context(base_url=live_server.url, **SIZES[request.param])
    context.set_default_timeout(10_000)
    context.add_init_script(LISTEN)
    page = context.new_page()
    page.width = request.param
    page.refused = []
    page.on("console", lambda message: "Content Security Policy" in message.text and page.refused.append(message.text))
    yield page
    context.close()


def violations(page) -> list[str]:
    page.wait_for_load_state("load")
    return page.evaluate("window.__violations") + page.refused


@pytest.fixture
def week():
    """Last week in the ledger: 3 emails sent and 1 failed, 2 WhatsApp messages sent (₹0.78 each) and 1 failed."""
    now = timezone.now()
    for days_ago in (1, 2, 3):
        DeliveryFactory(sent=True, created_at=now - dt.timedelta(days=days_ago))
    DeliveryFactory(status=Status.FAILED, created_at=now - dt.timedelta(days=2))
    for days_ago in (1, 4):
        DeliveryFactory(whatsapp=True, sent=True, cost="0.7846", created_at=now - dt.timedelta(days=days_ago))
    DeliveryFactory(whatsapp=True, status=Status.FAILED, created_at=now - dt.timedelta(days=4))
    DeliveryFactory(sent=True, created_at=now - dt.timedelta(days=20))  # not last week


@pytest.fixture
def session():
    """A session tomorrow whose "tomorrow" reminders are planned and wait for the worker."""
    course = CourseFactory(title="Data Science Bootcamp")
    for name in ("Asha Verma", "Ravi Kumar"):
        EnrollmentFactory(student=UserFactory(name=name, whatsapp_opt_in=True), course=course)
    session = LiveSessionFactory(
        course=course, title="Pandas Basics", scheduled_at=timezone.now() + dt.timedelta(hours=20)
    )
    reminders.plan_session_reminders_24h(now=timezone.now())
    return session


@pytest.fixture
def staff(page):
    staff = StaffUserFactory(email="priya.nair@school.example", name="Priya Nair")
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_delivery", "change_delivery"]))
    page.goto("/admin/login/")
    page.fill("#id_username", staff.email)
    page.fill("#id_password", TEST_PASSWORD)
    page.click("[type=submit]")
    page.wait_for_url("**/admin/")
    return staff


def cell(page, channel: str, figure: str) -> str:
    return page.locator(f"[data-testid=last-week-{channel}] [data-figure={figure}]").inner_text().strip()


def test_staff_read_last_weeks_figures_and_hold_one_sessions_reminders(page, staff, week, session, artifacts):
    page.get_by_role("link", name="Dashboard: messages per day").click()
    expect(page.get_by_test_id("dashboard")).to_be_visible()
    page.wait_for_function("[...document.styleSheets].every(sheet => sheet.cssRules !== null)")

    # Last week per channel, as the ledger holds it (the session's 2 planned emails count as planned, not sent).
    assert (cell(page, "email", "sent"), cell(page, "email", "failed")) == ("3", "1")
    assert (cell(page, "whatsapp", "sent"), cell(page, "whatsapp", "failed")) == ("2", "1")
    assert cell(page, "whatsapp", "cost") == "₹1.57"
    charts = page.locator("svg.pygal-chart")
    expect(charts).to_have_count(5)
    first = charts.first.bounding_box()
    assert first["width"] > 300 and first["x"] + first["width"] <= int(page.width), first
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"
    page.screenshot(path=artifacts / f"console-dashboard-{page.width}.png", full_page=True)
    page.get_by_test_id("period-90").click()
    expect(page.get_by_test_id("period-current")).to_have_text("last 90 days")

    page.get_by_role("link", name="Tomorrow's outbox").first.click()
    row = page.locator("[data-testid^='planned-session_24h:'][data-status=pending]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Pandas Basics")
    expect(row).to_contain_text("email 2, whatsapp 2")
    row.get_by_label("Reason").fill("The teacher is ill; we will reschedule")
    # Everything about the session: its "tomorrow" reminders now, its "starting soon" ones when planned.
    row.get_by_role("button", name="Hold everything about it (later reminders too)").click()

    expect(page.get_by_text("4 messages held.")).to_be_visible()
    held = page.locator("[data-testid^='planned-session_24h:'][data-status=held]")
    expect(held).to_have_count(1)
    expect(held.get_by_test_id("status")).to_contain_text("held · everything about it held")
    expect(held.get_by_role("button", name="Release everything about it")).to_be_visible()
    # Its "starting soon" reminders, not planned yet, are held too.
    soon = page.locator("[data-testid^='upcoming-session_15min:']")
    expect(soon).to_have_attribute("data-status", "held")
    expect(soon.get_by_test_id("status")).to_have_text("everything about it held")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"
    page.screenshot(path=artifacts / f"console-outbox-held-{page.width}.png", full_page=True)

    rows = Delivery.objects.filter(event__key=f"session_24h:{session_event_key(session)}")
    assert set(rows.values_list("status", flat=True)) == {Status.HELD}
    detail = "Held by priya.nair@school.example: The teacher is ill; we will reschedule"
    assert DeliveryEvent.objects.filter(delivery__in=rows, detail=detail).count() == 4
    assert violations(page) == []
