"""Issue 28's small items (leadsops): each as a person meets it, through real pages and commands."""

import datetime as dt
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from automation.services import run_jobs
from common.timezones import canonical_timezone, timezone_choices
from leads.models import CTASubmission
from leads.tests.factories import CTASubmissionFactory
from lms.tests.factories import CourseFactory, EnrollmentFactory, LiveSessionFactory, StaffUserFactory, UserFactory
from notifications.models import Notification

pytestmark = pytest.mark.django_db


def test_a_rejected_submission_no_longer_says_approving_creates_an_account(admin_client):
    submission = CTASubmissionFactory(status=CTASubmission.Status.REJECTED, email="nobody-yet@example.com")
    page = admin_client.get(f"/admin/leads/ctasubmission/{submission.pk}/change/").content.decode()
    assert "approving creates" not in page
    assert "Rejected: no account was created or linked" in page


def test_staff_pages_and_check_health_name_the_one_zone_they_show_times_in(admin_client, capsys):
    page = admin_client.get("/admin/leads/lead/").content.decode()
    assert f"Times on these pages are in {settings.TIME_ZONE}." in page
    list(run_jobs(names=["all"]))
    with pytest.raises(SystemExit):
        call_command("check_health")
        raise SystemExit(0)
    output = capsys.readouterr().out
    zone_name = timezone.localtime().tzname()
    assert f"Times are in {settings.TIME_ZONE} ({zone_name})" in output
    assert " UTC" not in output  # no second zone on the same screen
    assert f"{zone_name}" in output.split("Last success")[1]


def test_the_import_says_when_no_worker_is_running(client):
    staff = StaffUserFactory()
    staff.user_permissions.set(Permission.objects.filter(codename__in=["add_lead", "view_importbatch"]))
    client.force_login(staff)
    upload = SimpleUploadedFile("x.csv", b"Name,Email\nAsha,asha@example.com\n", content_type="text/csv")
    step = client.post("/admin/leads/importbatch/upload/", {"file": upload, "start_campaign": "on"})["Location"]
    page = client.post(step, {"col_0": "name", "col_1": "email", "import": "1"}, follow=True).content.decode()
    assert "1 Day 0 email is planned, but no worker is running" in page
    assert "on their way" not in page


def test_run_reminders_now_in_the_future_dates_no_notification_in_the_future():
    real_now = timezone.now()
    later = real_now + dt.timedelta(days=3)
    course = CourseFactory()
    EnrollmentFactory(student=UserFactory(), course=course)
    LiveSessionFactory(course=course, scheduled_at=later + dt.timedelta(hours=20))
    call_command("run_reminders", "session_24h", "--now", later.isoformat())
    notifications = Notification.objects.all()
    assert notifications.exists()
    assert all(n.created_at <= timezone.now() for n in notifications)


def test_time_zone_selects_offer_no_deprecated_alias_and_read_an_old_one_as_its_name(client):
    names = {name for _, zones in timezone_choices() for name, _ in zones}
    assert {"Asia/Kolkata", "Europe/Kyiv", "America/New_York", "UTC"} <= names
    assert not names & {"Asia/Calcutta", "US/Eastern", "Europe/Kiev", "Asia/Saigon"}
    assert canonical_timezone("Asia/Calcutta") == "Asia/Kolkata"
    student = UserFactory(timezone="Asia/Calcutta")
    client.force_login(student)
    page = client.get("/preferences/").content.decode()
    assert '<option value="Asia/Kolkata" selected>' in page


def test_a_favicon_is_linked_from_the_student_and_staff_pages(client, admin_client):
    assert 'rel="icon" href="/static/favicon.svg"' in client.get("/accounts/login/").content.decode()
    assert 'rel="icon" href="/static/favicon.svg"' in admin_client.get("/admin/").content.decode()
    assert (Path(settings.BASE_DIR) / "static" / "favicon.svg").read_text().startswith("<svg")


def test_make_demo_sends_from_a_real_looking_sender_and_gives_no_dry_run_hint(capsys):
    makefile = (Path(settings.BASE_DIR) / "Makefile").read_text()
    demo_env = next(line for line in makefile.splitlines() if line.startswith("DEMO_ENV"))
    assert "DEFAULT_FROM_EMAIL=" in demo_env and "hello@localhost" not in demo_env
    assert "seed_demo --reset --no-next-step" in makefile
    call_command("seed_demo", "--reset", "--no-next-step", "--students", "2")
    assert "--dry-run" not in capsys.readouterr().out
