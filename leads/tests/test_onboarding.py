"""CTA approval onboarding: one transaction, no password by email, nothing sent unless it all commits."""

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from leads.models import CrmActivity, CTASubmission, Lead, WelcomeCall
from leads.onboarding import approve_cta_submission, reject_cta_submission
from lms.models import User
from lms.tests.factories import StaffUserFactory
from lms.tests.links import LINK, emailed_link, open_link
from notifications.models import Delivery, Notification
from notifications.services.dispatch import dispatch_due_deliveries
from tests.concurrency import run_at_once

from .factories import CTASubmissionFactory, LeadFactory

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 24, 6, 0, tzinfo=dt.UTC)  # a Tuesday, 11:30 in Kolkata


@pytest.fixture
def staff():
    user = StaffUserFactory(email="priya@school.example", name="Priya Nair")
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="leads",
            codename__in=["approve_ctasubmission", "view_ctasubmission", "view_crmactivity"],
        )
    )
    return User.objects.get(pk=user.pk)


@pytest.fixture
def submission():
    return CTASubmissionFactory(
        name="Kabir Singh", email="kabir@example.com", phone="+919812345678", whatsapp_opt_in=True, status="pending"
    )


def approve(submission, staff, capture, **kwargs):
    with capture(execute=True):
        return approve_cta_submission(submission=submission, approved_by=staff, now=NOW, **kwargs)


def test_happy_path_onboards_exactly_once_with_no_password_in_any_email(
    submission, staff, django_capture_on_commit_callbacks, whatsapp_sent
):
    result = approve(submission, staff, django_capture_on_commit_callbacks, schedule_call=True)

    user = User.objects.get(email="kabir@example.com")
    assert result.user == user and result.user_created
    assert not user.has_usable_password()
    assert (user.phone, user.whatsapp_opt_in, user.role) == ("+919812345678", True, "student")

    welcome = [m for m in mail.outbox if m.to == ["kabir@example.com"]]
    assert len(welcome) == 1
    message = welcome[0]
    assert message.subject == "Welcome Aboard! 🎉"
    assert "password:" not in message.body.lower() and "temporary password" not in message.body.lower()
    assert LINK.search(message.body)
    assert "What's Next?" in message.body and "Complete your profile" in message.body
    assert "Your welcome call is booked for Wed, 25 Nov 2026, 10:00 am IST with Priya Nair" in message.body
    filename, ics, mimetype = message.attachments[0]
    assert (filename, mimetype) == ("welcome-call.ics", "text/calendar; method=PUBLISH")
    assert "DTSTART:20261125T043000Z" in ics

    assert len(whatsapp_sent) == 1 and whatsapp_sent[0].to == "+919812345678"
    call = WelcomeCall.objects.get()
    assert (call.student, call.assigned_to, call.scheduled_at) == (
        user,
        staff,
        dt.datetime(2026, 11, 25, 4, 30, tzinfo=dt.UTC),
    )

    staff_note = Notification.objects.get(user=staff)
    assert staff_note.title == "Approved: Kabir Singh is onboarded"
    assert [m for m in mail.outbox if m.to == [staff.email]]
    kinds = set(CrmActivity.objects.filter(submission=submission).values_list("kind", flat=True))
    assert kinds >= {
        "user_created",
        "welcome_email",
        "welcome_whatsapp",
        "call_scheduled",
        "approved",
        "admin_notified",
    }
    submission.refresh_from_db()
    assert (submission.status, submission.user, submission.processed_by) == ("approved", user, staff)
    assert (result.email_status, result.whatsapp_status) == ("sent", "sent")


def test_approving_twice_onboards_once(submission, staff, django_capture_on_commit_callbacks):
    approve(submission, staff, django_capture_on_commit_callbacks)
    with pytest.raises(ValidationError, match="already approved"):
        approve(submission, staff, django_capture_on_commit_callbacks)
    assert User.objects.filter(email="kabir@example.com").count() == 1
    assert Delivery.objects.filter(event__kind="welcome", channel="email").count() == 1


def test_an_existing_account_is_linked_not_duplicated(submission, staff, django_capture_on_commit_callbacks):
    existing = User.objects.create_user(email="KABIR@example.com", password="Existing-Pass-2026", name="Kabir")
    result = approve(submission, staff, django_capture_on_commit_callbacks)
    assert result.user == existing and not result.user_created
    existing.refresh_from_db()
    assert existing.check_password("Existing-Pass-2026")
    # The form's phone and consent never reach an existing account: anyone could have typed them.
    assert (existing.phone, existing.whatsapp_opt_in) == ("", False)
    assert "Kept the account's own phone number and WhatsApp choice (the form's number was not added)" in result.steps


def test_no_whatsapp_without_opt_in(staff, django_capture_on_commit_callbacks, whatsapp_sent):
    submission = CTASubmissionFactory(phone="+919812345678", whatsapp_opt_in=False, status="pending")
    result = approve(submission, staff, django_capture_on_commit_callbacks)
    assert whatsapp_sent == [] and result.whatsapp_status == "not planned"
    assert len([m for m in mail.outbox if m.subject.startswith("Welcome")]) == 1


def test_a_lead_that_is_approved_is_counted_as_converted(staff, django_capture_on_commit_callbacks):
    lead = LeadFactory(contacted=True, email="lead@example.com")
    submission = CTASubmissionFactory(email="lead@example.com", status="pending")
    approve(submission, staff, django_capture_on_commit_callbacks)
    lead.refresh_from_db()
    assert lead.status == "converted" and lead.campaign.conversions == 1


@pytest.mark.parametrize(
    "step",
    [
        "leads.onboarding.create_student",
        "leads.onboarding.schedule_welcome_call",
        "leads.onboarding.plan_welcome",
        "leads.onboarding.track_lead_conversion",
        "leads.onboarding.notify_staff",
        "leads.onboarding._log",
    ],
)
def test_a_failure_at_any_step_leaves_nothing_created_and_nothing_sent(
    step, submission, staff, monkeypatch, django_capture_on_commit_callbacks, whatsapp_sent
):
    LeadFactory(contacted=True, email="kabir@example.com")
    real = __import__("leads.onboarding", fromlist=["x"]).__dict__[step.rsplit(".", 1)[1]]
    calls = {"n": 0}

    def fail_late(*args, **kwargs):
        calls["n"] += 1
        if step.endswith("_log") and calls["n"] < 3:
            return real(*args, **kwargs)  # fail at the third CRM row, after messages were planned
        raise RuntimeError(f"injected failure in {step}")

    monkeypatch.setattr(step, fail_late)
    with pytest.raises(RuntimeError, match="injected"), django_capture_on_commit_callbacks(execute=True) as callbacks:
        approve_cta_submission(submission=submission, approved_by=staff, schedule_call=True, now=NOW)

    assert callbacks == []
    assert not User.objects.filter(email="kabir@example.com").exists()
    assert not Delivery.objects.exists() and not Notification.objects.exists()
    assert not WelcomeCall.objects.exists()
    assert mail.outbox == [] and whatsapp_sent == []
    submission.refresh_from_db()
    assert submission.status == "pending"
    assert Lead.objects.get().status == "contacted"


def test_the_set_password_link_works_once(client, submission, staff, django_capture_on_commit_callbacks):
    approve(submission, staff, django_capture_on_commit_callbacks)
    link = emailed_link(mail.outbox[0].body)

    page = open_link(client, link)
    assert page.status_code == 200 and "Choose your password" in page.content.decode()
    form_url = page.redirect_chain[-1][0]  # the token is in the session now, not in the address
    response = client.post(form_url, {"new_password1": "Kabir-Learns-2026", "new_password2": "Kabir-Learns-2026"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert User.objects.get(email="kabir@example.com").check_password("Kabir-Learns-2026")

    client.logout()
    open_link(client, link, follow=False)
    again = client.post(form_url, {"new_password1": "Another-Pass-2026", "new_password2": "Another-Pass-2026"})
    assert "This link no longer works" in again.content.decode()
    assert User.objects.get(email="kabir@example.com").check_password("Kabir-Learns-2026")


def test_an_expired_link_is_refused_and_a_new_one_can_be_asked_for(
    client, submission, staff, django_capture_on_commit_callbacks, settings
):
    settings.SET_PASSWORD_LINK_DAYS = 7
    with time_machine.travel(NOW, tick=False):
        approve(submission, staff, django_capture_on_commit_callbacks)
    link = emailed_link(mail.outbox[0].body)

    with time_machine.travel(NOW + dt.timedelta(days=8)):
        page = open_link(client, link).content.decode()
        assert "This link has expired" in page
        sent = client.post("/accounts/set-password/new-link/", {"email": "kabir@example.com"})
        assert "Check your email" in sent.content.decode()
        dispatch_due_deliveries()  # the worker sends it
        new_link = emailed_link(mail.outbox[-1].body)
        assert mail.outbox[-1].subject == "Your link to set a password"
        assert "Choose your password" in open_link(client, new_link).content.decode()
        # Unknown addresses get the same answer and no email.
        count = len(mail.outbox)
        assert (
            "Check your email"
            in client.post("/accounts/set-password/new-link/", {"email": "x@nowhere.example"}).content.decode()
        )
        dispatch_due_deliveries()
        assert len(mail.outbox) == count


def test_rejecting_sends_a_polite_email_with_the_reason(submission, staff, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        reject_cta_submission(submission=submission, rejected_by=staff, reason="This cohort is full.")
    message = mail.outbox[0]
    assert message.subject == "About your request to join CourseHub"
    assert "This cohort is full." in message.body
    assert CTASubmission.objects.get().status == "rejected"
    assert not User.objects.filter(email="kabir@example.com").exists()


@pytest.mark.django_db(transaction=True)
def test_approve_cta_command_prints_the_outcome(submission, staff, capsys):
    call_command("approve_cta", str(submission.pk), "--admin", staff.email, "--call")
    output = capsys.readouterr().out
    user = User.objects.get(email="kabir@example.com")
    assert f"user_id         {user.pk}" in output
    assert "email_sent      sent" in output and "whatsapp_sent   sent" in output
    assert "call_scheduled" in output and "IST" in output
    with pytest.raises(CommandError, match="already approved"):
        call_command("approve_cta", str(submission.pk), "--admin", staff.email)
    with pytest.raises(CommandError, match="may not approve"):
        call_command("approve_cta", str(submission.pk), "--admin", StaffUserFactory().email)


def test_welcome_calls_skip_weekends_and_busy_slots(staff, django_capture_on_commit_callbacks):
    friday = dt.datetime(2026, 11, 27, 6, 0, tzinfo=dt.UTC)
    first = CTASubmissionFactory(status="pending")
    second = CTASubmissionFactory(status="pending")
    with django_capture_on_commit_callbacks(execute=True):
        approve_cta_submission(submission=first, approved_by=staff, schedule_call=True, now=friday)
        approve_cta_submission(submission=second, approved_by=staff, schedule_call=True, now=friday)
    slots = list(WelcomeCall.objects.order_by("scheduled_at").values_list("scheduled_at", flat=True))
    # Monday 30 Nov at 10:00 and 10:30 in Kolkata.
    assert slots == [dt.datetime(2026, 11, 30, 4, 30, tzinfo=dt.UTC), dt.datetime(2026, 11, 30, 5, 0, tzinfo=dt.UTC)]


# --- Admin -----------------------------------------------------------------------------------------


def changelist_post(client, action, submission, **extra):
    return client.post(
        "/admin/leads/ctasubmission/",
        {"action": action, "_selected_action": [submission.pk], **extra},
        follow=True,
    )


def test_the_admin_action_approves_and_reports_one_line_per_submission(client, submission, staff):
    done = CTASubmissionFactory(status="approved")
    client.force_login(staff)
    response = client.post(
        "/admin/leads/ctasubmission/",
        {"action": "approve_selected", "_selected_action": [submission.pk, done.pk]},
        follow=True,
    )
    page = response.content.decode()
    assert "Kabir Singh: approved. Account kabir@example.com created" in page
    assert f"{done.name}: not approved." in page and "already approved" in page
    assert User.objects.filter(email="kabir@example.com").exists()


def test_staff_without_the_permission_cannot_approve_even_with_a_forged_post(client, submission):
    viewer = StaffUserFactory()
    viewer.user_permissions.add(Permission.objects.get(codename="view_ctasubmission"))
    client.force_login(viewer)
    assert "Approve selected" not in client.get("/admin/leads/ctasubmission/").content.decode()
    changelist_post(client, "approve_selected", submission)
    changelist_post(client, "reject_selected", submission, confirm="yes")
    submission.refresh_from_db()
    assert submission.status == "pending"
    assert not User.objects.filter(email="kabir@example.com").exists()


def test_reject_action_asks_for_an_optional_reason_then_rejects(client, submission, staff):
    client.force_login(staff)
    confirm = changelist_post(client, "reject_selected", submission)
    assert "Reason (optional, sent to them)" in confirm.content.decode()
    changelist_post(client, "reject_selected", submission, confirm="yes", reason="Try the January cohort.")
    submission.refresh_from_db()
    assert (submission.status, submission.rejection_reason) == ("rejected", "Try the January cohort.")


def test_the_submission_page_shows_its_crm_timeline(client, submission, staff, django_capture_on_commit_callbacks):
    approve(submission, staff, django_capture_on_commit_callbacks)
    client.force_login(staff)
    page = client.get(f"/admin/leads/ctasubmission/{submission.pk}/change/").content.decode()
    assert "Welcome email with a set-password link queued." in page
    assert "Approved by priya@school.example." in page


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_staff_approving_at_once_onboard_once(submission, staff, whatsapp_sent):
    other = StaffUserFactory()

    def approve_as(user):
        return lambda: approve_cta_submission(submission=submission, approved_by=user)

    results = run_at_once(approve_as(staff), approve_as(other))

    refused = [result for result in results if isinstance(result, ValidationError)]
    outcomes = ["refused"] * len(refused) + ["approved" for result in results if not isinstance(result, Exception)]
    assert sorted(outcomes) == ["approved", "refused"]
    assert User.objects.filter(email="kabir@example.com").count() == 1
    assert len([m for m in mail.outbox if m.to == ["kabir@example.com"]]) == 1
    assert len(whatsapp_sent) == 1
