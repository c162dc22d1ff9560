"""Languages: pages in the student's language, languages staff add, fallbacks to English."""

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from leads.campaigns import plan_lead_follow_ups
from leads.tests.factories import LeadFactory
from lms.tests.factories import TEST_PASSWORD, AssignmentFactory, EnrollmentFactory, StaffUserFactory, UserFactory
from notifications.models import Delivery, Language, MessageTemplate
from notifications.services.dispatch import dispatch_due_deliveries

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    assert client.login(email=user.email, password=TEST_PASSWORD)
    return client


def test_a_hindi_student_reads_the_dashboard_in_hindi_and_an_english_one_in_english():
    hindi = logged_in(UserFactory(language="hi", name="Sunita Rao"))
    english = logged_in(UserFactory(name="Asha Verma"))

    page = hindi.get(reverse("lms:dashboard")).content.decode()
    assert "नमस्ते Sunita" in page and "आने वाले सत्र" in page and 'lang="hi"' in page
    page = english.get(reverse("lms:dashboard")).content.decode()
    assert "Hi Asha" in page and "Upcoming sessions" in page and "आने वाले सत्र" not in page


def test_a_language_staff_add_gets_its_own_copy_and_falls_back_to_english_without_one(admin_client):
    response = admin_client.post(
        reverse("admin:notifications_language_add"), {"code": "ta", "name": "தமிழ்", "locale": "ta_IN"}
    )
    assert response.status_code == 302 and Language.objects.filter(code="ta").exists()
    staff = StaffUserFactory(is_superuser=True)
    lead_form = admin_client.get(reverse("admin:notifications_messagetemplate_add")).content.decode()
    assert 'value="ta"' in lead_form

    tamil = LeadFactory(contacted=True, name="Kavya Iyer", language="ta")
    now = timezone.now()
    plan_lead_follow_ups(now=now)
    dispatch_due_deliveries(now=now)
    assert mail.outbox[0].subject == "Still interested, Kavya?"  # no Tamil copy yet: English

    MessageTemplate.objects.create(
        kind="lead_day3",
        channel="email",
        language="ta",
        version=1,
        status="published",
        subject="இன்னும் ஆர்வமா, {{ first_name }}?",
        text="வணக்கம் {{ first_name }} {{ cta_url }}",
        created_by=staff,
    )
    from notifications.copy.published import forget_published_versions

    forget_published_versions()
    Delivery.objects.all().delete()
    tamil.follow_up_day3_sent = False
    tamil.save()
    mail.outbox.clear()
    plan_lead_follow_ups(now=now)
    dispatch_due_deliveries(now=now)
    assert mail.outbox[0].subject == "இன்னும் ஆர்வமா, Kavya?"


def test_staff_set_a_students_and_a_leads_language_in_the_admin(admin_client):
    student = UserFactory()
    lead = LeadFactory()
    form = admin_client.get(reverse("admin:lms_user_change", args=[student.pk])).content.decode()
    assert 'name="language"' in form and "हिन्दी (Hindi)" in form
    form = admin_client.get(reverse("admin:leads_lead_change", args=[lead.pk])).content.decode()
    assert 'name="language"' in form


def test_the_preferences_assignment_and_login_pages_in_hindi(client, db):
    login = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="hi").content.decode()
    assert "पासवर्ड भूल गए?" in login
    student = UserFactory(language="hi")
    assignment = AssignmentFactory()
    EnrollmentFactory(student=student, course=assignment.course)
    client.force_login(student)
    preferences = client.get("/preferences/").content.decode()
    assert "आपको कौन-से संदेश मिलते हैं" in preferences and "मोबाइल नंबर" in preferences
    assert "अपना काम जमा करें" in client.get(f"/assignments/{assignment.pk}/").content.decode()
