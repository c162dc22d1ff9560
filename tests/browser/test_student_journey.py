"""A student on a phone, in a real browser: log in, read notifications, submit, choose what they get."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from lms import reminders
from lms.tests.factories import (
    TEST_PASSWORD,
    AssignmentFactory,
    CourseFactory,
    EnrollmentFactory,
    LiveSessionFactory,
    PaymentFactory,
    RecordingFactory,
    UserFactory,
)
from notifications.models import Channel, Delivery, Notification, NotificationPreference, Topic
from notifications.services.dispatch import dispatch_due_deliveries

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
Status = Delivery.Status
MEETING_URL = "https://meet.example.com/pandas-live"


@pytest.fixture
def school():
    """A course with a class starting in 10 minutes, one tomorrow, a recording, an assignment, a fee."""
    now = timezone.now()
    course = CourseFactory(title="Data Science Bootcamp")
    student = UserFactory(name="Asha Verma", email="asha@example.com", phone="+919876543210", whatsapp_opt_in=True)
    classmate = UserFactory(name="Ravi Kumar", email="ravi@example.com")
    for person in (student, classmate):
        EnrollmentFactory(student=person, course=course)
    LiveSessionFactory(
        course=course, title="Pandas Live", scheduled_at=now + dt.timedelta(minutes=10), meeting_url=MEETING_URL
    )
    LiveSessionFactory(course=course, title="Plotting with Matplotlib", scheduled_at=now + dt.timedelta(hours=20))
    RecordingFactory(session__course=course, session__title="NumPy Arrays", published_at=now - dt.timedelta(minutes=5))
    assignment = AssignmentFactory(
        course=course, title="Clean the Sales Dataset", deadline=now + dt.timedelta(hours=30)
    )
    PaymentFactory(student=student, course=course, description="Bootcamp fee", created_at=now - dt.timedelta(days=4))
    # What a run of the jobs has made so far (in-app notifications among them); assignment and
    # payment reminders are planned later in the tests.
    for rule in (
        reminders.plan_session_reminders_24h,
        reminders.plan_session_reminders_15min,
        reminders.plan_recording_notifications,
    ):
        rule(now=now)
    return {"student": student, "classmate": classmate, "assignment": assignment}


def log_in(page, user):
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Hi Asha")).to_be_visible()


def csrf_token(page) -> str:
    return page.locator("input[name=csrfmiddlewaretoken]").first.input_value()


def wait_for_styles(page):
    """Wait until the page is laid out with its stylesheets: measuring before site.css has loaded
    sees the browser's default sizes (22px links), which made this test fail now and then."""
    page.wait_for_load_state("load")
    page.wait_for_function(
        """() => document.readyState === 'complete'
            && [...document.querySelectorAll('link[rel=stylesheet]')].every(link => link.sheet !== null)
            && document.fonts.status === 'loaded'"""
    )


def assert_fits_a_phone(page):
    """No sideways scrolling, and every control is at least 44px tall (and wide, for icons)."""
    wait_for_styles(page)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px"
    small = page.evaluate(
        """() => [...document.querySelectorAll(
                'button, a.button, .site-nav a, .bell, summary, input:not([type=hidden]):not([type=checkbox])'
                + ':not([type=radio]), select, textarea, label.check, label.radio')]
            .filter(el => el.offsetParent !== null)
            .map(el => [el.outerHTML.slice(0, 80), el.getBoundingClientRect()])
            .filter(([, r]) => r.height < 44 || r.width < 44)
            .map(([html, r]) => `${html} (${Math.round(r.width)}x${Math.round(r.height)})`)"""
    )
    assert not small, f"touch targets under 44px on {page.url}: {small}"


def test_student_reads_notifications_submits_and_changes_what_they_get(phone, live_server, school, artifacts):
    page, student, classmate = phone, school["student"], school["classmate"]
    badge = page.get_by_test_id("unread-badge")
    # The meeting is on another site; answer for it so the test needs no network.
    page.route(
        "https://meet.example.com/**",
        lambda route: route.fulfill(body="<h1>Meeting room</h1>", content_type="text/html"),
    )

    # Log in; the dashboard shows the class starting soon and the badge counts 3 notifications.
    log_in(page, student)
    expect(page).to_have_url(f"{live_server.url}/")
    expect(badge).to_have_text("3")
    soon = page.get_by_test_id("starting-soon")
    expect(soon).to_contain_text("Pandas Live")
    expect(soon.get_by_role("link", name="Join now")).to_have_attribute("href", MEETING_URL)
    expect(page.get_by_text("₹4,999")).to_be_visible()
    assert_fits_a_phone(page)
    page.screenshot(path=artifacts / "dashboard-phone.png", full_page=True)

    # The notifications page: newest first, all three unread.
    page.get_by_test_id("bell").click()
    expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
    expect(page.locator(".notification.unread")).to_have_count(3)
    assert_fits_a_phone(page)

    # Opening one follows its link (the session's tracked join door, then the meeting) and marks it
    # read: the badge drops by one.
    page.get_by_test_id("notification").filter(has_text="Starting Soon: Pandas Live").get_by_role("button").click()
    page.get_by_role("button", name="Join the session").click()
    expect(page).to_have_url(MEETING_URL)
    expect(page.get_by_role("heading", name="Meeting room")).to_be_visible()
    page.goto("/notifications/")
    expect(badge).to_have_text("2")
    expect(page.locator(".notification.unread")).to_have_count(2)
    page.screenshot(path=artifacts / "notifications-phone.png", full_page=True)  # 2 unread, 1 read

    # Another student's notification can be neither opened nor marked read.
    theirs = Notification.objects.create(user=classmate, kind="test", title="Ravi's note", link="/")
    refused = page.request.post(f"/notifications/{theirs.pk}/open/", form={"csrfmiddlewaretoken": csrf_token(page)})
    assert refused.status == 404

    # Mark all as read: the badge is gone, and nobody else's notifications changed.
    page.get_by_role("button", name="Mark all as read").click()
    expect(page.get_by_text("Marked 2 notifications as read.")).to_be_visible()
    expect(badge).to_have_count(0)
    expect(page.locator(".notification.unread")).to_have_count(0)
    theirs.refresh_from_db()
    assert theirs.read_at is None

    # Submit the assignment from the dashboard; the assignment reminder then skips this student.
    page.get_by_role("link", name="Dashboard").click()
    item = page.locator(f"#assignment-{school['assignment'].pk}")
    item.get_by_text("Submit", exact=True).click()
    item.get_by_label("Your answer").fill("https://colab.example.com/notebooks/sales-cleaning")
    item.get_by_role("button", name="Submit assignment").click()
    expect(page.get_by_text("Submitted “Clean the Sales Dataset”. Well done!")).to_be_visible()
    expect(page.locator(f"#assignment-{school['assignment'].pk} .chip")).to_have_text("Submitted")

    result = reminders.plan_assignment_reminders(now=timezone.now())
    assert result.planned[Channel.EMAIL] == 1  # the classmate, who has not submitted
    assert not Delivery.objects.filter(recipient=student, event__kind="assignment_due").exists()
    assert Delivery.objects.filter(recipient=classmate, event__kind="assignment_due").exists()

    # Preferences: no payment reminders on WhatsApp, no class reminders by email.
    page.get_by_role("link", name="Preferences").click()
    page.get_by_label("Payment reminders by WhatsApp").uncheck()
    page.get_by_label("Class reminders and course updates by Email").uncheck()
    assert_fits_a_phone(page)
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_text("Your preferences are saved.")).to_be_visible()
    expect(page.get_by_label("Payment reminders by WhatsApp")).not_to_be_checked()
    assert set(NotificationPreference.objects.filter(user=student, enabled=False).values_list("topic", "channel")) == {
        (Topic.PAYMENTS, Channel.WHATSAPP),
        (Topic.REMINDERS, Channel.EMAIL),
    }

    # The dispatcher honours them, for messages planned before the change (class reminders) and
    # after it (the payment reminder, planned now): those end as suppressed, the others go out.
    reminders.plan_payment_reminders(now=timezone.now())
    dispatch_due_deliveries(now=timezone.now())
    outcome = {
        (kind, channel): status
        for kind, channel, status in Delivery.objects.filter(recipient=student).values_list(
            "event__kind", "channel", "status"
        )
    }
    assert outcome == {
        ("session_15min", Channel.EMAIL): Status.SUPPRESSED,
        ("session_15min", Channel.WHATSAPP): Status.SENT,
        ("session_24h", Channel.EMAIL): Status.SUPPRESSED,
        ("session_24h", Channel.WHATSAPP): Status.SENT,
        ("recording_available", Channel.EMAIL): Status.SUPPRESSED,
        ("payment_reminder", Channel.EMAIL): Status.SENT,
        ("payment_reminder", Channel.WHATSAPP): Status.SUPPRESSED,
    }
    assert set(
        Delivery.objects.filter(recipient=student, status=Status.SUPPRESSED).values_list("events__detail", flat=True)
    ) == {"opted_out"}


def test_student_turns_whatsapp_off_and_on_moves_time_zone_and_is_sent_to_the_profile_for_a_new_number(
    phone, live_server, school, whatsapp_sent
):
    page, student = phone, school["student"]
    log_in(page, student)
    page.get_by_role("link", name="Preferences").click()
    expect(page.get_by_test_id("whatsapp-status")).to_contain_text("WhatsApp is on for +919876543210")

    # Off, in plain words; the reminders already planned for WhatsApp are then not sent.
    page.get_by_label("No, do not send me anything on WhatsApp.").check()
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_test_id("whatsapp-status")).to_contain_text("WhatsApp is off")
    dispatch_due_deliveries(now=timezone.now())
    assert whatsapp_sent == []
    assert set(
        Delivery.objects.filter(recipient=student, channel=Channel.WHATSAPP).values_list("status", flat=True)
    ) == {Status.SUPPRESSED}

    # On again needs a valid number; what they type is stored in E.164.
    page.get_by_label("Yes, send me class and payment reminders on WhatsApp").check()
    page.get_by_label("Mobile number").fill("12345")
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_text("is not a valid phone number")).to_be_visible()
    # A new number is added on the profile page, with a code sent to it (lms.phones): not here.
    page.get_by_label("Mobile number").fill("091234 56789")
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_text("use your profile page: we send it a code first")).to_be_visible()
    page.get_by_label("Mobile number").fill("098765 43210")
    page.get_by_label("Your time zone").select_option("Europe/London")
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_test_id("whatsapp-status")).to_contain_text("WhatsApp is on for +919876543210")
    student.refresh_from_db()
    assert (student.whatsapp_opt_in, student.phone, student.timezone) == (True, "+919876543210", "Europe/London")

    # The dashboard now speaks London time.
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_text(re.compile(r"\b(GMT|BST)\b")).first).to_be_visible()


def test_every_page_fits_a_phone(phone, live_server, school, artifacts):
    page = phone
    for name, path in (("login", "/accounts/login/"), ("password-reset", "/accounts/password_reset/")):
        page.goto(path)
        assert_fits_a_phone(page)
        page.screenshot(path=artifacts / f"{name}-phone.png", full_page=True)
    log_in(page, school["student"])
    pages = {
        "dashboard": "/",
        "notifications": "/notifications/",
        "preferences": "/preferences/",
        "assignment": f"/assignments/{school['assignment'].pk}/",
        "password-change": "/accounts/password_change/",
    }
    for name, path in pages.items():
        page.goto(path)
        assert_fits_a_phone(page)
        if name in ("preferences", "assignment", "password-change"):
            page.screenshot(path=artifacts / f"{name}-phone.png", full_page=True)
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
