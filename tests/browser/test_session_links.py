"""Issue 29 in chromium at 390 px: the email's one-tap RSVP and the tracked join link, under the CSP."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from lms.models import SessionAttendance, SessionRsvp
from lms.session_links import make_token
from lms.tests.factories import CourseFactory, EnrollmentFactory, LiveSessionFactory, UserFactory
from tests.security.test_csp_browser import LISTEN

from .conftest import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
MEETING = "https://meet.example.com/pandas-live"


def phone_page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, **PHONE)
    context.set_default_timeout(10_000)
    context.add_init_script(LISTEN)
    return context, context.new_page()


def test_a_student_answers_and_joins_from_the_links_on_a_phone(browser, live_server, artifacts):
    course = CourseFactory(title="Data Science Bootcamp")
    student = UserFactory(email="asha@example.com", name="Asha Verma")
    EnrollmentFactory(student=student, course=course)
    session = LiveSessionFactory(
        course=course, title="Pandas Live", scheduled_at=timezone.now() + dt.timedelta(minutes=10), meeting_url=MEETING
    )
    context, page = phone_page(browser, live_server)
    page.route(MEETING, lambda route: route.fulfill(body="<h1>Meeting room</h1>", content_type="text/html"))
    try:
        token = make_token("rsvp", session_id=session.pk, student_id=student.pk)
        page.goto(reverse("lms:session_rsvp", args=[token, "no"]))
        expect(page.get_by_role("heading", name="Pandas Live")).to_be_visible()
        assert not SessionRsvp.objects.exists()  # opening the link records nothing
        page.get_by_role("button", name="Can't make it").click()
        expect(page.get_by_test_id("rsvp-recorded")).to_contain_text("send you the recording")
        assert SessionRsvp.objects.get().answer == "no"
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.screenshot(path=str(artifacts / "session-rsvp-390.png"), full_page=True)

        join = make_token("join", session_id=session.pk, student_id=student.pk)
        page.goto(reverse("lms:session_join", args=[join]))
        page.get_by_role("button", name="Join the session").click()
        expect(page.get_by_role("heading", name="Meeting room")).to_be_visible()
        assert SessionAttendance.objects.get().student == student
        assert page.evaluate("window.__violations") in ([], None)
    finally:
        context.close()
