"""The student's pages: logging in, the dashboard, submitting an assignment, and where message links lead."""

import datetime as dt
import html
import re
from decimal import Decimal

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from common.formatting import format_when
from lms import reminders
from lms.models import Submission
from lms.tests.links import emailed_link, open_link
from notifications.models import Delivery, Notification
from notifications.services.dispatch import dispatch_due_deliveries

from .factories import (
    TEST_PASSWORD,
    AssignmentFactory,
    CourseFactory,
    EnrollmentFactory,
    LiveSessionFactory,
    PaymentFactory,
    RecordingFactory,
    SubmissionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
DASHBOARD = reverse("lms:dashboard")


@pytest.fixture
def course():
    return CourseFactory(title="Data Science Bootcamp")


@pytest.fixture
def student(course):
    user = UserFactory(name="Asha Verma", email="asha@example.com", whatsapp_opt_in=True)
    EnrollmentFactory(student=user, course=course)
    return user


@pytest.fixture
def logged_in(client, student):
    client.force_login(student)
    return client


def assignment_url(assignment) -> str:
    return reverse("lms:assignment", args=[assignment.pk])


# --- Logging in and out ---------------------------------------------------------------------


def test_logging_in_with_email_lands_on_the_dashboard(client, student):
    response = client.post(reverse("login"), {"username": "ASHA@example.com", "password": TEST_PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == "/"
    assert "Hi Asha" in response.content.decode()


def test_a_wrong_password_is_refused_on_the_styled_page(client, student):
    response = client.post(reverse("login"), {"username": student.email, "password": "nope"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Please enter a correct email address and password" in html
    assert 'class="card narrow"' in html


def test_a_link_from_a_message_asks_to_log_in_then_opens_where_it_pointed(client, student, course):
    assignment = AssignmentFactory(course=course)
    response = client.get(assignment_url(assignment))
    assert response["Location"] == f"{reverse('login')}?next={assignment_url(assignment)}"

    response = client.post(
        reverse("login"),
        {"username": student.email, "password": TEST_PASSWORD, "next": assignment_url(assignment)},
    )
    assert response["Location"] == assignment_url(assignment)


def test_logging_out_is_a_post_from_the_header(logged_in):
    html = logged_in.get(DASHBOARD).content.decode()
    assert f'action="{reverse("logout")}"' in html
    response = logged_in.post(reverse("logout"))
    assert response["Location"] == reverse("login")
    assert logged_in.get(DASHBOARD).status_code == 302


def test_resetting_a_password_emails_a_link_that_sets_a_new_one(client, student):
    client.post(reverse("password_reset"), {"email": student.email})
    dispatch_due_deliveries()  # the worker sends what the page queued
    (message,) = mail.outbox
    path = emailed_link(message.body)

    page = open_link(client, path)
    assert "Choose your password" in page.content.decode()
    form_url = page.redirect_chain[-1][0]
    done = client.post(
        form_url, {"new_password1": "a-new-long-passphrase-42", "new_password2": "a-new-long-passphrase-42"}
    )
    assert done.status_code == 302 and done["Location"] == "/"
    client.logout()
    assert client.login(username=student.email, password="a-new-long-passphrase-42")
    # The link worked once.
    assert "This link no longer works" in open_link(client, path).content.decode()


def test_changing_password_from_preferences(logged_in):
    assert reverse("password_change") in logged_in.get(reverse("notifications:preferences")).content.decode()
    response = logged_in.post(
        reverse("password_change"),
        {
            "old_password": TEST_PASSWORD,
            "new_password1": "another-long-passphrase-7",
            "new_password2": "another-long-passphrase-7",
        },
        follow=True,
    )
    assert "Password changed" in response.content.decode()


# --- The dashboard --------------------------------------------------------------------------


def test_dashboard_shows_sessions_in_the_students_time_zone_with_their_join_links(logged_in, student, course):
    student.timezone = "America/New_York"
    student.save()
    starts = timezone.now().replace(microsecond=0) + dt.timedelta(days=2)
    session = LiveSessionFactory(course=course, title="Pandas Basics", scheduled_at=starts)
    LiveSessionFactory(title="Another course's class")

    html = logged_in.get(DASHBOARD).content.decode()

    assert "Pandas Basics" in html
    # e.g. "Thu, 26 Nov 2026, 11:30 PM EST": the student's zone, as their reminders say it.
    assert format_when(starts, tz="America/New_York", locale=student.locale) in html
    assert re.search(r"E[SD]T", html)
    assert f'href="{session.meeting_url}"' in html
    assert "Join link" in html
    assert 'data-testid="starting-soon"' not in html
    assert "Another course" not in html


def test_a_session_starting_soon_gets_a_prominent_join_button(logged_in, course):
    session = LiveSessionFactory(
        course=course, title="Pandas Live", scheduled_at=timezone.now() + dt.timedelta(minutes=9)
    )
    html = logged_in.get(DASHBOARD).content.decode()
    prominent = html.split('data-testid="starting-soon"', 1)[1].split("</section>", 1)[0]
    assert "Starts in" in prominent and "Pandas Live" in prominent
    assert f'class="button danger block" href="{session.meeting_url}"' in prominent


def test_a_session_in_progress_is_live_and_one_that_ended_is_gone(logged_in, course):
    LiveSessionFactory(course=course, title="Running Now", scheduled_at=timezone.now() - dt.timedelta(minutes=20))
    LiveSessionFactory(course=course, title="Ended Already", scheduled_at=timezone.now() - dt.timedelta(minutes=90))
    html = logged_in.get(DASHBOARD).content.decode()
    assert "Live now" in html and "Running Now" in html
    assert "Ended Already" not in html


def test_dashboard_shows_recordings_visible_to_the_student_only(logged_in, course):
    RecordingFactory(session__course=course, session__title="Visible Class", url="https://videos.example.com/ok")
    RecordingFactory(session__course=course, session__title="Hidden Class", visible_to_students=False)
    RecordingFactory(session__title="Other Course Class")
    html = logged_in.get(DASHBOARD).content.decode()
    assert "Visible Class" in html and 'href="https://videos.example.com/ok"' in html
    assert "Hidden Class" not in html and "Other Course Class" not in html


def test_dashboard_shows_assignments_with_deadline_and_status(logged_in, student, course):
    now = timezone.now()
    SubmissionFactory(assignment=AssignmentFactory(course=course, title="Done One"), student=student)
    AssignmentFactory(course=course, title="Due Soon One", deadline=now + dt.timedelta(hours=30))
    AssignmentFactory(course=course, title="Later One", deadline=now + dt.timedelta(days=6))
    AssignmentFactory(course=course, title="Missed One", deadline=now - dt.timedelta(days=1))
    html = logged_in.get(DASHBOARD).content.decode()

    def status_of(title):
        return re.search(rf"{title}.*?chip [\w-]+\">([^<]+)<", html, re.S).group(1)

    assert status_of("Done One") == "Submitted"
    assert status_of("Due Soon One") == "Due soon"
    assert status_of("Later One") == "Not submitted"
    assert status_of("Missed One") == "Overdue"
    assert "IST" in html


def test_submitting_from_the_dashboard_creates_the_submission(logged_in, student, course):
    assignment = AssignmentFactory(course=course, title="Clean the Data")
    html = logged_in.get(DASHBOARD).content.decode()
    assert f'action="{assignment_url(assignment)}"' in html

    response = logged_in.post(assignment_url(assignment), {"text": "https://colab.example.com/n/1"}, follow=True)

    assert response.redirect_chain[-1][0] == DASHBOARD
    assert "Submitted “Clean the Data”" in response.content.decode()
    submission = Submission.objects.get(assignment=assignment, student=student)
    assert submission.text == "https://colab.example.com/n/1"


def test_submitting_a_file(logged_in, student, course, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    assignment = AssignmentFactory(course=course)
    upload = SimpleUploadedFile("analysis.ipynb", b'{"cells": []}', content_type="application/json")
    logged_in.post(assignment_url(assignment), {"text": "", "file": upload})
    submission = Submission.objects.get(assignment=assignment, student=student)
    assert submission.file.read() == b'{"cells": []}'
    assert "Submitted" in logged_in.get(assignment_url(assignment)).content.decode()


def test_an_empty_submission_is_refused(logged_in, course):
    assignment = AssignmentFactory(course=course)
    response = logged_in.post(assignment_url(assignment), {"text": "  "})
    assert "Write an answer or attach a file." in response.content.decode()
    assert not Submission.objects.exists()


def test_an_assignment_of_another_course_is_404(logged_in):
    assert logged_in.get(assignment_url(AssignmentFactory())).status_code == 404


def test_dashboard_shows_pending_payments_in_the_students_locale(logged_in, student):
    PaymentFactory(student=student, amount=Decimal("100000"), description="Bootcamp fee")
    PaymentFactory(student=student, paid=True, description="Already paid")
    us_payment = PaymentFactory(student=student, amount=Decimal("1000"), currency="USD", payment_url="")
    html = logged_in.get(DASHBOARD).content.decode()
    assert "₹1,00,000" in html and "Bootcamp fee" in html and "Pay now" in html
    assert "US$1,000" in html or "$1,000" in html
    assert us_payment.description in html and "We will send you a link to pay." in html
    assert "Already paid" not in html


def test_dashboard_costs_a_bounded_number_of_queries(logged_in, student, course, django_assert_max_num_queries):
    for _ in range(10):
        LiveSessionFactory(course=course)
        RecordingFactory(session__course=course)
        SubmissionFactory(assignment=AssignmentFactory(course=course), student=student)
        PaymentFactory(student=student)
    # Session, user, badge, enrollments, sessions, recordings, assignments, submissions, payments.
    with django_assert_max_num_queries(9):
        logged_in.get(DASHBOARD)


# --- Every link in every message resolves ---------------------------------------------------


URL = re.compile(r"https?://[^\s\"'<>]+")


def test_every_link_in_every_message_opens_a_page_or_the_stored_external_url(
    logged_in, student, course, settings, whatsapp_sent
):
    now = timezone.now()
    sessions = [
        LiveSessionFactory(course=course, scheduled_at=now + dt.timedelta(hours=20)),
        LiveSessionFactory(course=course, scheduled_at=now + dt.timedelta(minutes=10)),
    ]
    recording = RecordingFactory(session__course=course, published_at=now - dt.timedelta(minutes=5))
    AssignmentFactory(course=course, deadline=now + dt.timedelta(hours=30))
    payments = [
        PaymentFactory(student=student, created_at=now - dt.timedelta(days=4)),
        PaymentFactory(student=student, created_at=now - dt.timedelta(days=4), payment_url=""),
    ]
    for rule in (
        reminders.plan_session_reminders_24h,
        reminders.plan_session_reminders_15min,
        reminders.plan_recording_notifications,
        reminders.plan_assignment_reminders,
        reminders.plan_payment_reminders,
    ):
        rule(now=now)
    dispatch_due_deliveries(now=now)
    assert set(Delivery.objects.values_list("status", flat=True)) == {Delivery.Status.SENT}
    kinds = set(Delivery.objects.values_list("event__kind", flat=True))
    assert kinds == {"session_24h", "session_15min", "recording_available", "assignment_due", "payment_reminder"}

    texts = [m.body for m in mail.outbox] + [m.alternatives[0].content for m in mail.outbox]
    texts += [m.body for m in whatsapp_sent]
    links = {url.rstrip(".,)") for text in texts for url in URL.findall(text)}
    links |= set(Notification.objects.filter(user=student).values_list("link", flat=True))
    # The 24-hour reminder's "add to Google Calendar" link: the same in the text and the HTML part.
    calendar = {link for link in links if link.startswith("https://calendar.google.com/")}
    assert len({html.unescape(link) for link in calendar}) == 1
    links -= calendar
    # Meeting links go out only through the students' tracked join links (lms.session_links): ours.
    external = {recording.url} | {p.payment_url for p in payments if p.payment_url}
    assert not {s.meeting_url for s in sessions} & links

    ours = {link.removeprefix(settings.SITE_URL) for link in links if link.startswith(settings.SITE_URL)}
    assert external == links - {link for link in links if link.startswith(settings.SITE_URL)}
    assert {"/", "/preferences/", assignment_url(course.assignments.get())} <= ours
    for path in ours:
        assert logged_in.get(path).status_code == 200, path


# --- In-app notifications -------------------------------------------------------------------


def test_a_starting_soon_notification_puts_its_time_in_words_when_the_page_is_shown(logged_in, course, student):
    import time_machine

    now = timezone.now().replace(microsecond=0)
    LiveSessionFactory(course=course, title="Pandas Live", scheduled_at=now + dt.timedelta(minutes=10))
    reminders.plan_session_reminders_15min(now=now)

    with time_machine.travel(now + dt.timedelta(minutes=2), tick=False):
        page = logged_in.get(reverse("notifications:list")).content.decode().replace("\xa0", " ")
    assert "Starts in 8 minutes. Join now." in page

    # 48 minutes after it was planned the same notification says the class has started.
    with time_machine.travel(now + dt.timedelta(minutes=48), tick=False):
        page = logged_in.get(reverse("notifications:list")).content.decode().replace("\xa0", " ")
    assert "Started 38 minutes ago. Join now." in page
    assert "Starts in" not in page and "[[" not in page


def test_a_tomorrow_notification_does_not_still_say_tomorrow_two_days_later(logged_in, course, student):
    import html

    import time_machine

    now = timezone.now().replace(microsecond=0)
    LiveSessionFactory(course=course, title="Plotting", scheduled_at=now + dt.timedelta(hours=20))
    reminders.plan_session_reminders_24h(now=now)

    page = html.unescape(logged_in.get(reverse("notifications:list")).content.decode()).replace("\xa0", " ")
    assert '"Plotting" starts in 19 hours' in page
    with time_machine.travel(now + dt.timedelta(days=2), tick=False):
        page = html.unescape(logged_in.get(reverse("notifications:list")).content.decode()).replace("\xa0", " ")
    assert "started 1 day ago" in page and "starts in" not in page


def test_opening_a_notifications_address_directly_shows_it_with_a_button_and_marks_nothing_read(
    client, logged_in, student
):
    from lms.tests.factories import UserFactory as AnotherUser

    mine = Notification.objects.create(
        user=student, kind="test", title="Recording Available: Pandas", message="Watch it now.", link="/"
    )
    url = reverse("notifications:open", args=[mine.pk])
    response = logged_in.get(url)
    page = response.content.decode()
    assert response.status_code == 200
    assert "Recording Available: Pandas" in page and "Watch it now." in page
    assert f'<form method="post" action="{url}">' in page and ">Open</button>" in page
    mine.refresh_from_db()
    assert mine.read_at is None  # a GET (a prefetcher, a shared link) changes nothing

    # Following the button opens it, as from the list.
    assert logged_in.post(url)["Location"] == "/"
    mine.refresh_from_db()
    assert mine.read_at is not None

    theirs = Notification.objects.create(user=AnotherUser(), kind="test", title="Not yours")
    assert logged_in.get(reverse("notifications:open", args=[theirs.pk])).status_code == 404


def test_a_notification_link_opened_before_logging_in_leads_to_it_after_logging_in(client, student):
    mine = Notification.objects.create(user=student, kind="test", title="Payment reminder: ₹4,999", link="/")
    url = reverse("notifications:open", args=[mine.pk])
    assert client.get(url)["Location"] == f"{reverse('login')}?next={url}"
    response = client.post(
        f"{reverse('login')}?next={url}", {"username": student.email, "password": TEST_PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1] == (url, 302)
    assert response.status_code == 200 and "Payment reminder: ₹4,999" in response.content.decode()
