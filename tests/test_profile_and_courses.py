"""What a new student meets: the welcome's links, her profile, her courses, the time-zone picker."""

import datetime as dt
import re
from html import unescape

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from leads.forms import WHATSAPP_WORDING
from leads.onboarding import approve_cta_submission
from leads.tests.factories import CTASubmissionFactory
from lms.forms import WHATSAPP_CONSENT_WORDING
from lms.models import User
from lms.tests.factories import (
    AssignmentFactory,
    CourseFactory,
    EnrollmentFactory,
    LiveSessionFactory,
    RecordingFactory,
    StaffUserFactory,
    SubmissionFactory,
    UserFactory,
)
from notifications.models import Notification, WhatsAppConsent

pytestmark = pytest.mark.django_db
PROFILE, COURSES = reverse("lms:profile"), reverse("lms:courses")


@pytest.fixture
def student():
    return UserFactory(name="Meera Phone", email="meera@example.com", phone="", whatsapp_opt_in=False)


@pytest.fixture
def logged_in(client, student):
    client.force_login(student)
    return client


def profile_form(**changes) -> dict:
    return {
        "name": "Meera Phone",
        "phone": "",
        "timezone": "Asia/Kolkata",
        "language": "en",
        **changes,
    }


def optgroups(page: str, select_name: str) -> list[str]:
    select = re.search(rf'<select name="{select_name}"[^>]*>(.*?)</select>', page, re.S).group(1)
    return re.findall(r'<optgroup label="([^"]+)"', select)


# --- The welcome ------------------------------------------------------------------------------


def test_a_newly_approved_student_gets_an_in_app_welcome_and_every_welcome_link_opens_a_page(
    client, django_capture_on_commit_callbacks, settings
):
    staff = StaffUserFactory(email="priya@school.example")
    submission = CTASubmissionFactory(name="Kabir Singh", email="kabir@example.com", status="pending")
    with django_capture_on_commit_callbacks(execute=True):
        approve_cta_submission(submission=submission, approved_by=staff)
    kabir = User.objects.get(email="kabir@example.com")

    welcome = Notification.objects.get(user=kabir, kind="welcome")
    assert welcome.title == "Welcome Aboard! 🎉"
    assert "Complete your profile" in welcome.message
    assert welcome.link == PROFILE

    email = next(message for message in mail.outbox if message.to == ["kabir@example.com"])
    assert email.body.startswith("Hi Kabir,")  # the first name, as the subject and WhatsApp use
    html = email.alternatives[0].content
    promised = {
        "Complete your profile": PROFILE,
        "See your courses": COURSES,
        "Check your session schedule": reverse("lms:dashboard"),
    }
    for words, path in promised.items():
        assert f"{words}" in email.body and f"{settings.SITE_URL}{path}" in email.body
        assert f'<a href="{settings.SITE_URL}{path}">{words}</a>' in html

    # She opens them once logged in (her password is set through the link, out of scope here).
    client.force_login(kabir)
    for path in promised.values():
        assert client.get(path).status_code == 200, path
    page = client.get(reverse("notifications:list")).content.decode()
    assert "Welcome Aboard!" in page
    opened = client.post(reverse("notifications:open", args=[welcome.pk]))
    assert opened["Location"] == PROFILE


# --- The profile ------------------------------------------------------------------------------


def test_a_student_saves_her_name_phone_time_zone_language_and_whatsapp_consent(
    logged_in, student, whatsapp_sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in.post(
            PROFILE,
            profile_form(
                name="  Meera   Iyer ",
                phone="098765 43210",
                whatsapp_opt_in="on",
                timezone="Europe/London",
                language="hi",
            ),
            follow=True,
        )
    assert response.redirect_chain == [(PROFILE, 302)]
    # The number joins her account with the code sent to it (lms/tests/test_phone_verification.py).
    code = re.search(r"\b(\d{6})\b", whatsapp_sent[-1].body).group(1)
    logged_in.post(reverse("lms:phone_code"), {"code": code, "action": "verify"})
    student.refresh_from_db()
    assert (student.name, student.phone, student.whatsapp_opt_in, student.timezone, student.language) == (
        "Meera Iyer",
        "+919876543210",
        True,
        "Europe/London",
        "hi",
    )
    # Her consent is on record for the number, with when and how, as the preferences page records it.
    consent = WhatsAppConsent.objects.get(address="+919876543210", category="utility")
    assert (consent.given, consent.source, consent.user) == (True, "profile page (number proved by code)", student)
    page = response.content.decode()
    assert "आपकी प्रोफ़ाइल सहेज ली गई है।" in page  # said in the language she just chose
    assert 'lang="hi"' in page  # her pages follow the language she chose
    assert 'value="Europe/London" selected' in page


def test_the_whatsapp_box_says_word_for_word_what_she_agreed_to_when_she_signed_up(logged_in):
    page = unescape(logged_in.get(PROFILE).content.decode())
    assert WHATSAPP_CONSENT_WORDING == WHATSAPP_WORDING
    label = re.search(r'data-testid="whatsapp-consent">([^<]+)<', page).group(1)
    assert label == WHATSAPP_WORDING


def test_whatsapp_consent_without_a_phone_is_refused_and_nothing_is_saved(logged_in, student):
    response = logged_in.post(PROFILE, profile_form(name="Meera Iyer", whatsapp_opt_in="on"))
    assert response.status_code == 200
    assert "Add your mobile number to get messages on WhatsApp." in response.content.decode()
    student.refresh_from_db()
    assert (student.name, student.whatsapp_opt_in) == ("Meera Phone", False)


def test_a_number_that_is_not_a_phone_is_refused_with_the_reason(logged_in, student):
    response = logged_in.post(PROFILE, profile_form(phone="12"))
    assert "is not a valid phone number" in unescape(response.content.decode())
    student.refresh_from_db()
    assert student.phone == ""


def test_an_empty_name_is_refused(logged_in, student):
    response = logged_in.post(PROFILE, profile_form(name="   "))
    assert response.status_code == 200
    student.refresh_from_db()
    assert student.name == "Meera Phone"


def test_the_profile_is_for_the_logged_in_person_only(client):
    response = client.get(PROFILE)
    assert response["Location"] == f"{reverse('login')}?next={PROFILE}"


# --- The time-zone picker ---------------------------------------------------------------------


def test_time_zones_are_grouped_by_region_with_india_first_wherever_they_are_picked(logged_in, client):
    for path in (PROFILE, reverse("notifications:preferences")):
        page = logged_in.get(path).content.decode()
        groups = optgroups(page, "timezone")
        assert groups[:3] == ["India", "Asia", "Africa"], path
        assert {"Americas", "Europe", "Australia", "Pacific"} <= set(groups), path
        india = re.search(r'<optgroup label="India">(.*?)</optgroup>', page, re.S).group(1)
        assert re.findall(r'<option value="([^"]+)"', india) == ["Asia/Kolkata"]
        assert '<option value="America/New_York">New York</option>' in page

    admin = StaffUserFactory(superuser=True)
    client.force_login(admin)
    page = client.get(reverse("admin:lms_user_change", args=[admin.pk])).content.decode()
    assert optgroups(page, "timezone")[0] == "India"


def test_an_old_time_zone_name_is_still_accepted(logged_in, student):
    logged_in.post(PROFILE, profile_form(timezone="Asia/Calcutta"))
    student.refresh_from_db()
    assert student.timezone == "Asia/Calcutta"


# --- My courses -------------------------------------------------------------------------------


def test_my_courses_shows_each_enrolled_course_with_its_next_session_and_materials(
    logged_in, student, django_assert_max_num_queries
):
    now = timezone.now()
    python, web = CourseFactory(title="Python for Data Analysis"), CourseFactory(title="Web Development")
    other = CourseFactory(title="Someone Else's Course")
    for course in (python, web):
        EnrollmentFactory(student=student, course=course)
    LiveSessionFactory(course=python, title="Ended", scheduled_at=now - dt.timedelta(hours=3))
    LiveSessionFactory(course=python, title="Later", scheduled_at=now + dt.timedelta(days=3))
    LiveSessionFactory(course=python, title="Pandas Live", scheduled_at=now + dt.timedelta(hours=20))
    LiveSessionFactory(course=python, title="Cancelled", scheduled_at=now + dt.timedelta(hours=2), is_cancelled=True)
    LiveSessionFactory(course=other, title="Not Hers", scheduled_at=now + dt.timedelta(hours=1))
    RecordingFactory(session__course=python, session__title="NumPy Arrays", url="https://videos.example.com/numpy")
    RecordingFactory(session__course=python, session__title="Still Editing", visible_to_students=False)
    done = AssignmentFactory(course=python, title="Clean the Sales Dataset", deadline=now + dt.timedelta(hours=30))
    SubmissionFactory(assignment=done, student=student)
    AssignmentFactory(course=web, title="Build a To-Do API", deadline=now + dt.timedelta(days=5))

    with django_assert_max_num_queries(12):
        page = unescape(logged_in.get(COURSES).content.decode())

    cards = re.findall(r'data-testid="course">(.*?)</section>', page, re.S)
    assert [re.search(r"<h2[^>]*>([^<]+)<", card).group(1) for card in cards] == [
        "Python for Data Analysis",
        "Web Development",
    ]
    python_card, web_card = cards
    next_session = re.search(r'data-testid="next-session">(.*?)</div>\s*<a', python_card, re.S).group(1)
    assert "Pandas Live" in next_session
    assert "NumPy Arrays" in python_card and "https://videos.example.com/numpy" in python_card
    assert "Still Editing" not in page and "Not Hers" not in page and "Someone Else" not in page
    assert "Clean the Sales Dataset" in python_card and "Submitted" in python_card
    assert "Build a To-Do API" in web_card and "No session is scheduled yet" in web_card
    assert "No recordings yet." in web_card


def test_a_student_with_no_course_yet_is_told_what_happens_next(logged_in):
    page = logged_in.get(COURSES).content.decode()
    assert 'data-testid="no-courses"' in page
    assert "You are not enrolled in a course yet" in page
    assert f'href="{PROFILE}"' in page


def test_unticking_whatsapp_on_the_profile_withdraws_the_consent_on_record(logged_in, student):
    User.objects.filter(pk=student.pk).update(phone="+919876543210")  # her number, proved
    logged_in.post(PROFILE, profile_form(phone="+919876543210", whatsapp_opt_in="on"))
    logged_in.post(PROFILE, profile_form(phone="+919876543210"))
    student.refresh_from_db()
    consent = WhatsAppConsent.objects.get(address="+919876543210", category="utility")
    assert (student.whatsapp_opt_in, consent.given, consent.source) == (False, False, "profile page")


def test_a_hindi_student_reads_her_profile_and_courses_in_hindi(client):
    student = UserFactory(email="priya@example.com", language="hi")
    client.force_login(student)
    assert "आपकी प्रोफ़ाइल" in client.get("/profile/").content.decode()
    courses = client.get("/courses/").content.decode()
    assert "मेरे कोर्स" in courses and "नामांकित नहीं" in courses
