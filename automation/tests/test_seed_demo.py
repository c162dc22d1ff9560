"""`seed_demo`: demo data that gives every automation something to do, safe to run twice."""

import datetime as dt
import io

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.utils import timezone

from automation.demo import ADMIN_EMAIL, STUDENT_EMAIL
from common.phones import is_valid_e164
from leads import models as lead_models
from lms.models import Assignment, Course, LiveSession, Payment, Recording, Submission, User

pytestmark = pytest.mark.django_db


def seed(*args) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def printed_passwords(output: str) -> dict[str, str]:
    """The login and password printed under each of "Admin:" and "Student:"."""
    lines = output.splitlines()
    found = {}
    for index, line in enumerate(lines):
        if line.startswith(("Admin:", "Student:")):
            login = lines[index + 1].split("Login: ", 1)[1]
            found[login] = lines[index + 2].split("Password: ", 1)[1]
    return found


def lead_model(name):
    return getattr(lead_models, name)


@pytest.fixture
def seeded():
    before = timezone.now()
    output = seed("--admin-password", "Demo-Admin-2026!")
    return {"output": output, "now": before}


def test_seed_creates_an_admin_and_a_student_who_log_in_with_the_printed_passwords(client):
    output = seed()
    passwords = printed_passwords(output)
    admin = authenticate(email=ADMIN_EMAIL, password=passwords[ADMIN_EMAIL])
    assert admin is not None and admin.is_staff and admin.is_superuser
    assert "/admin/" in output and "/start/" in output
    # The student logs in through the real login page and lands on her dashboard.
    page = client.post(
        "/accounts/login/", {"username": STUDENT_EMAIL, "password": passwords[STUDENT_EMAIL]}, follow=True
    )
    assert page.status_code == 200 and page.wsgi_request.user.email == STUDENT_EMAIL
    assert not page.wsgi_request.user.is_staff
    assert "Hi Asha" in page.content.decode()


def test_seed_creates_a_dozen_students_around_the_world_with_valid_phones(seeded):
    students = User.objects.filter(is_staff=False)
    assert students.count() == 12
    phones = [s.phone for s in students if s.phone]
    assert len(phones) == 11  # one student has no phone
    assert all(is_valid_e164(phone) for phone in phones)
    assert sum(phone.startswith("+91") for phone in phones) >= 7
    assert {"Asia/Kolkata", "America/New_York", "Europe/London", "Asia/Dubai", "Asia/Singapore"} <= set(
        students.values_list("timezone", flat=True)
    )
    assert students.filter(whatsapp_opt_in=True).count() >= 8
    assert students.filter(whatsapp_opt_in=False).exclude(phone="").exists()
    assert not students.filter(whatsapp_opt_in=True, phone="").exists()


def test_seed_prices_courses_in_rupees(seeded):
    prices = sorted(Course.objects.values_list("price", flat=True))
    assert [str(price) for price in prices] == ["4999.00", "12000.00", "100000.00"]
    assert set(Course.objects.values_list("currency", flat=True)) == {"INR"}


def test_seed_has_sessions_for_both_reminders_and_recordings(seeded):
    now = seeded["now"]
    upcoming = LiveSession.objects.filter(scheduled_at__gt=now)
    # The 24-hour reminder: more than an hour and at most a day away.
    assert upcoming.filter(
        scheduled_at__gt=now + dt.timedelta(hours=1), scheduled_at__lte=now + dt.timedelta(hours=24)
    ).exists()
    # The 15-minute reminder: about ten minutes away.
    assert upcoming.filter(scheduled_at__lte=now + dt.timedelta(minutes=15)).exists()
    assert upcoming.filter(scheduled_at__gt=now + dt.timedelta(days=2)).exists()
    assert LiveSession.objects.filter(scheduled_at__lt=now).exists()
    assert all(
        url.startswith("https://meet.example.com/") for url in LiveSession.objects.values_list("meeting_url", flat=True)
    )
    assert Recording.objects.filter(visible_to_students=True).count() >= 2
    assert Recording.objects.filter(visible_to_students=False).count() == 1
    for session in LiveSession.objects.filter(scheduled_at__gt=now):
        assert session.course.enrollments.exists()


def test_seed_has_an_assignment_due_soon_that_some_students_submitted(seeded):
    now = seeded["now"]
    due_soon = Assignment.objects.get(deadline__gt=now, deadline__lte=now + dt.timedelta(hours=48))
    enrolled = due_soon.course.enrollments.count()
    assert 0 < Submission.objects.filter(assignment=due_soon).count() < enrolled
    assert Assignment.objects.filter(deadline__gt=now + dt.timedelta(hours=48)).exists()
    assert Assignment.objects.filter(deadline__lt=now).exists()


def test_seed_has_pending_payments_older_and_newer_than_three_days(seeded):
    now = seeded["now"]
    pending = Payment.objects.filter(status=Payment.Status.PENDING)
    assert pending.filter(created_at__lte=now - dt.timedelta(days=3)).count() == 2
    assert pending.filter(created_at__gt=now - dt.timedelta(days=3)).count() == 1
    # One student paid last week; the converted lead paid for both of her courses.
    assert Payment.objects.filter(status=Payment.Status.PAID).count() == 3
    assert all(p.payment_url.startswith("https://pay.example.com/") for p in pending)


def test_seed_has_leads_due_for_day_3_and_day_7_and_a_conversion(seeded):
    now = seeded["now"]
    Lead, CTASubmission = lead_model("Lead"), lead_model("CTASubmission")
    contacted = Lead.objects.filter(status="contacted", campaign__status="active")
    day3 = contacted.filter(
        first_contacted_at__lte=now - dt.timedelta(days=3),
        first_contacted_at__gt=now - dt.timedelta(days=7),
        follow_up_day3_sent=False,
    )
    day7 = contacted.filter(first_contacted_at__lte=now - dt.timedelta(days=7), follow_up_day7_sent=False)
    assert day3.exists() and day7.exists()
    assert Lead.objects.filter(status="new").exists()
    assert Lead.objects.count() == 15
    assert set(Lead.objects.values_list("status", flat=True)) == {
        "new",
        "contacted",
        "converted",
        "unsubscribed",
        "bounced",
    }
    converted = Lead.objects.get(status="converted")
    assert converted.cta_submission.status == "approved"
    assert CTASubmission.objects.filter(status="pending").count() == 3
    campaign = lead_model("LeadCampaign").objects.get()
    assert (campaign.total_leads, campaign.conversions) == (13, 1)
    batch = lead_model("ImportBatch").objects.get()
    assert (batch.total_rows, batch.created_count, batch.duplicate_count, batch.invalid_count) == (17, 15, 1, 1)


def test_the_demo_history_is_the_ledger_the_services_made(seeded):
    from leads.stats import campaign_stats

    stats = campaign_stats(campaign=lead_model("LeadCampaign").objects.get())
    # Day 0 to 13 leads (one bounced), Day 3 to the first wave but the two who left.
    assert [(step.sent, step.bounced) for step in stats.steps] == [(12, 1), (6, 0), (0, 0)]
    assert (stats.conversions, stats.approvals, stats.paying) == (1, 1, 1)
    assert stats.roi is not None and stats.roi > 0


def test_seed_prints_a_summary_and_the_password_only_on_the_terminal(seeded, mailoutbox):
    assert "Students" in seeded["output"] and "12" in seeded["output"]
    assert "Password: Demo-Admin-2026!" in seeded["output"]
    assert mailoutbox  # the campaign's emails went out on their days
    assert not [message for message in mailoutbox if "Demo-Admin-2026!" in message.body]


def test_seeding_twice_changes_nothing_and_says_so(seeded):
    counts = {model: model.objects.count() for model in (User, Course, LiveSession, Payment, lead_model("Lead"))}
    output = seed()
    assert "already present" in output
    assert "Password: " not in output.replace("Password: unchanged", "")
    assert {model: model.objects.count() for model in counts} == counts
    assert authenticate(email=ADMIN_EMAIL, password="Demo-Admin-2026!") is not None


def test_seeding_again_with_a_password_only_sets_the_password(seeded):
    sessions = LiveSession.objects.count()
    output = seed("--admin-password", "Changed-Pass-2026")
    assert "already present" in output and "Password: Changed-Pass-2026" in output
    assert authenticate(email=ADMIN_EMAIL, password="Changed-Pass-2026") is not None
    assert LiveSession.objects.count() == sessions


def test_reset_recreates_the_demo_with_fresh_times_and_leaves_other_data_alone(seeded):
    someone = User.objects.create_user(email="real.person@school.example", password=None, name="Real Person")
    old_ids = set(LiveSession.objects.values_list("pk", flat=True))
    output = seed("--reset", "--students", "20")
    assert "Deleted" in output and "Password: " in output
    assert User.objects.filter(is_staff=False).exclude(pk=someone.pk).count() == 20
    assert User.objects.filter(pk=someone.pk).exists()
    assert not old_ids & set(LiveSession.objects.values_list("pk", flat=True))
    assert lead_model("Lead").objects.count() == 15
    assert lead_model("ImportBatch").objects.count() == 1
    assert all(is_valid_e164(phone) for phone in User.objects.exclude(phone="").values_list("phone", flat=True))


def test_seed_refuses_an_impossible_student_count_or_a_weak_password():
    with pytest.raises(CommandError, match="between 1 and"):
        seed("--students", "0")
    with pytest.raises(CommandError, match=r"too short|too common"):
        seed("--admin-password", "abc")
    assert not Course.objects.exists()


def test_every_automation_finds_work_in_the_demo(seeded):
    from leads.campaigns import plan_lead_follow_ups
    from lms import reminders

    now = timezone.now()
    for rule in (
        reminders.plan_session_reminders_24h,
        reminders.plan_session_reminders_15min,
        reminders.plan_recording_notifications,
        reminders.plan_assignment_reminders,
        reminders.plan_payment_reminders,
        plan_lead_follow_ups,
    ):
        assert rule(now=now, dry_run=True).total > 0, rule.__name__


@pytest.fixture
def demo_after_a_run(seeded):
    """The demo after `make demo`: every job has run once (deliveries, notifications, job log)."""
    call_command("run_reminders", "all", stdout=io.StringIO())
    return seeded


def test_every_admin_page_of_the_demo_opens_for_the_superuser(demo_after_a_run, client):
    from django.contrib import admin
    from django.urls import reverse

    client.force_login(User.objects.get(email=ADMIN_EMAIL))
    urls = [reverse("admin:index"), reverse("automation_jobs")]
    for model in admin.site._registry:
        opts = model._meta
        urls.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        urls.append(reverse("admin:app_list", args=[opts.app_label]))
        for pk in model._default_manager.values_list("pk", flat=True):
            urls.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[pk]))
    batch = lead_model("ImportBatch").objects.get()
    urls += [reverse("admin:leads_importbatch_report", args=[batch.pk]), reverse("admin:leads_importbatch_upload")]

    broken = {}
    for url in dict.fromkeys(urls):
        response = client.get(url)
        if response.status_code != 200:
            broken[url] = response.status_code
    assert not broken
    assert len(urls) > 100  # every object, not a sample


def test_every_page_of_the_demo_student_opens(demo_after_a_run, client):
    student = User.objects.get(email=STUDENT_EMAIL)
    client.force_login(student)
    assignments = Assignment.objects.filter(course__enrollments__student=student)
    urls = ["/", "/courses/", "/profile/", "/notifications/", "/preferences/", "/accounts/password_change/"]
    urls += [f"/assignments/{assignment.pk}/" for assignment in assignments]
    urls += [f"/notifications/{pk}/open/" for pk in student.notifications.values_list("pk", flat=True)]
    for url in urls:
        assert client.get(url).status_code == 200, url
    assert student.notifications.exists()
    client.logout()
    assert client.get("/start/").status_code == 200  # the CTA form, for anyone
