"""The public CTA form is an anonymous door: it may not take over an account, nor be flooded."""

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.urls import reverse

from leads.models import CTASubmission
from leads.onboarding import approve_cta_submission
from lms.models import User
from lms.reminders import plan_session_reminders_24h
from lms.tests.factories import EnrollmentFactory, LiveSessionFactory, StaffUserFactory, UserFactory
from notifications.models import Delivery
from notifications.services.dispatch import dispatch_due_deliveries

pytestmark = pytest.mark.django_db
STRANGER_PHONE = "+919876543210"


def submit(client, *, ip="203.0.113.20", **fields):
    data = {"name": "Stranger", "email": "someone@example.com", **fields}
    return client.post(reverse("leads:cta"), data, REMOTE_ADDR=ip)


@pytest.fixture
def staff():
    user = StaffUserFactory(email="priya@school.example")
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="leads", codename__in=["approve_ctasubmission", "view_ctasubmission"]
        )
    )
    return User.objects.get(pk=user.pk)


def test_a_stranger_cannot_take_over_a_students_whatsapp_through_the_form(
    client, staff, django_capture_on_commit_callbacks, whatsapp_sent
):
    victim = UserFactory(email="victim@example.com", phone="", whatsapp_opt_in=False)
    session = LiveSessionFactory()
    EnrollmentFactory(student=victim, course=session.course)
    submit(client, name="Stranger", email="VICTIM@example.com", phone=STRANGER_PHONE, whatsapp_opt_in="on")

    with django_capture_on_commit_callbacks(execute=True):
        approve_cta_submission(submission=CTASubmission.objects.get(), approved_by=staff)
    victim.refresh_from_db()
    assert (victim.phone, victim.whatsapp_opt_in) == ("", False)

    plan_session_reminders_24h(now=session.scheduled_at - dt.timedelta(hours=20))
    dispatch_due_deliveries()
    assert not [m for m in whatsapp_sent if m.to == STRANGER_PHONE]
    assert not Delivery.objects.filter(to_address=STRANGER_PHONE).exists()


def test_a_superusers_number_is_never_replaced_from_the_form(client, staff, django_capture_on_commit_callbacks):
    boss = User.objects.create_superuser(email="admin@example.com", password="Very-long-admin-pass-1")
    boss.phone, boss.whatsapp_opt_in = "+919800000001", False
    boss.save()
    submit(client, email="admin@example.com", phone=STRANGER_PHONE, whatsapp_opt_in="on")
    with django_capture_on_commit_callbacks(execute=True):
        approve_cta_submission(submission=CTASubmission.objects.get(), approved_by=staff)
    boss.refresh_from_db()
    assert (boss.phone, boss.whatsapp_opt_in, boss.is_superuser) == ("+919800000001", False, True)


def test_staff_see_that_the_email_has_an_account_and_are_warned_for_a_staff_account(client, admin_client):
    UserFactory(email="student@example.com")
    StaffUserFactory(email="teacher@school.example")
    submit(client, email="new@example.com", ip="198.51.100.1")
    submit(client, email="Student@example.com", ip="198.51.100.2")
    submit(client, email="teacher@school.example", ip="198.51.100.3")
    by_email = {s.email: s for s in CTASubmission.objects.all()}

    def page(email):
        return admin_client.get(reverse("admin:leads_ctasubmission_change", args=[by_email[email].pk])).content.decode()

    assert "approving creates a student account" in page("new@example.com")
    assert 'data-testid="existing-account-note"' in page("student@example.com")
    assert "not copied to the account" in page("student@example.com")
    assert 'data-testid="staff-account-warning"' in page("teacher@school.example")
    listing = admin_client.get(reverse("admin:leads_ctasubmission_changelist")).content.decode()
    assert "A staff account has this email" in listing


def test_approving_a_staff_accounts_email_warns_the_approver(admin_client):
    teacher = StaffUserFactory(email="teacher@school.example")
    submit(admin_client, email="teacher@school.example")
    submission = CTASubmission.objects.get()
    response = admin_client.post(
        reverse("admin:leads_ctasubmission_changelist"),
        {"action": "approve_selected", "_selected_action": [submission.pk]},
        follow=True,
    )
    text = response.content.decode()
    assert "is a staff account" in text and "did not change" in text
    teacher.refresh_from_db()
    assert teacher.is_staff and teacher.role == User.objects.get(pk=teacher.pk).role


def test_one_client_flooding_the_form_is_stopped(client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "cta_ip": "10/h"}
    answers = [submit(client, name=f"Bot {n}", email=f"bot{n}@example.com").status_code for n in range(200)]
    assert answers[:10] == [302] * 10 and set(answers[10:]) == {429}  # 302: to the thank-you page
    assert CTASubmission.objects.count() == 10
    assert "Too many requests" in submit(client, email="late@example.com").content.decode()
    # Someone else is not held back by the flood.
    assert submit(client, email="real@example.com", ip="192.0.2.80").status_code == 302
    assert CTASubmission.objects.filter(email="real@example.com").exists()


def test_one_address_submitted_from_many_clients_is_stored_a_few_times_only(client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "cta_address": "3/d"}
    answers = [submit(client, email="Target@example.com", ip=f"198.51.100.{n}").status_code for n in range(20)]
    assert set(answers) == {302}  # the same thanks page: the limit tells a stranger nothing
    assert CTASubmission.objects.filter(email="target@example.com").count() == 3
    assert mail.outbox == []


def test_mistakes_on_the_form_do_not_use_up_the_limit(client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "cta_ip": "2/h"}
    for _ in range(5):
        assert submit(client, email="not-an-email").status_code == 200
    assert submit(client, email="fine@example.com").status_code == 302
    assert CTASubmission.objects.filter(email="fine@example.com").exists()
