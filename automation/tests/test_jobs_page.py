"""The jobs page in the admin: schedules, last runs, backlog, and Run now for permitted staff."""

import pytest
from django.contrib.auth.models import Permission

from automation.jobs import JOBS
from automation.models import JobExecutionLog
from automation.schedules import sync_schedules
from lms.tests.factories import StaffUserFactory

pytestmark = pytest.mark.django_db
URL = "/admin/automation/jobs/"


def staff_with(*codenames):
    user = StaffUserFactory()
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="automation", codename__in=codenames))
    return user


def test_staff_see_every_job_with_schedule_and_next_run(client):
    sync_schedules()
    client.force_login(staff_with("view_jobexecutionlog", "run_job"))
    response = client.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    for job in JOBS:
        assert job.name in page
    assert "every 10 min" in page and "daily at 15:30 IST" in page  # 10:00 UTC, in the admin's zone
    assert "Run now" in page


def test_run_now_runs_the_job_and_logs_who_asked(client):
    user = staff_with("view_jobexecutionlog", "run_job")
    client.force_login(user)
    response = client.post(URL, {"job": "payment_reminders"}, follow=True)
    assert "payment_reminders: success" in response.content.decode().lower()
    assert JobExecutionLog.objects.get(job_name="payment_reminders").trigger == f"admin:{user.email}"


def test_staff_without_the_permission_cannot_run_a_job_even_with_a_forged_post(client):
    client.force_login(staff_with("view_jobexecutionlog"))
    page = client.get(URL).content.decode()
    assert "Run now" not in page
    assert client.post(URL, {"job": "payment_reminders"}).status_code == 403
    assert not JobExecutionLog.objects.exists()


def test_staff_who_cannot_see_the_job_log_cannot_open_the_page(client):
    client.force_login(staff_with())
    assert client.get(URL).status_code == 403


def test_anonymous_visitors_are_sent_to_the_admin_login(client):
    response = client.get(URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_page_says_no_worker_is_running_and_which_next_runs_are_overdue(client):
    import datetime as dt

    from django.utils import timezone
    from django_q.models import Schedule

    sync_schedules()
    Schedule.objects.update(next_run=timezone.now() - dt.timedelta(hours=3))  # nobody took them
    client.force_login(staff_with("view_jobexecutionlog"))

    page = client.get(URL).content.decode()

    assert 'data-testid="no-worker-banner"' in page and "No worker is running." in page
    assert "manage.py qcluster" in page
    assert page.count("overdue since") == len(JOBS)
    assert "never run" in page


def test_the_banner_goes_once_a_worker_runs_every_job_on_schedule(client):
    import datetime as dt

    from django.utils import timezone

    from automation.services import run_job

    now = timezone.now()
    sync_schedules()
    for job in JOBS:
        run_job(name=job.name, trigger="schedule")
    client.force_login(staff_with("view_jobexecutionlog"))
    assert "no-worker-banner" not in client.get(URL).content.decode()

    # The delivery job (every minute) stops: the banner names it alone.
    JobExecutionLog.objects.filter(job_name="deliver_messages").update(started_at=now - dt.timedelta(minutes=3))
    page = client.get(URL).content.decode()
    assert "Some jobs are not running on schedule." in page and "deliver_messages (every minute)" in page
    assert "No worker is running." not in page


def test_every_time_on_the_page_is_in_one_labelled_zone(client):
    import re

    from automation.services import run_job

    sync_schedules()
    run_job(name="payment_reminders", trigger="schedule")
    client.force_login(staff_with("view_jobexecutionlog"))

    page = client.get(URL).content.decode()

    assert "All times on this page are in <strong>Asia/Kolkata</strong> (IST)" in page
    # A word, not a substring: a CSRF token is random letters and may hold "UTC".
    assert not re.search(r"\bUTC\b", page)
    times = re.findall(r"\d{1,2}:\d{2} ([A-Z+0-9]+)", page)
    assert times and set(times) == {"IST"}
