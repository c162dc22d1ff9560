"""The job runner and run_reminders: logs, locks, failures, dry runs, and no duplicates under concurrency."""

import contextlib
import datetime as dt
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.db import connection

from automation.jobs import get_job
from automation.locks import job_lock
from automation.models import JobExecutionLog
from automation.services import run_job, run_jobs
from lms.tests.factories import EnrollmentFactory, LiveSessionFactory, PaymentFactory, UserFactory
from notifications.models import Delivery

pytestmark = pytest.mark.django_db
ROOT = Path(settings.BASE_DIR)


@pytest.fixture
def busy_school():
    """Students with a session tomorrow, one in ten minutes and an overdue payment."""
    now = dt.datetime.now(dt.UTC)
    students = [UserFactory(whatsapp_opt_in=True) for _ in range(5)]
    tomorrow = LiveSessionFactory(scheduled_at=now + dt.timedelta(hours=20))
    soon = LiveSessionFactory(course=tomorrow.course, scheduled_at=now + dt.timedelta(minutes=10))
    for student in students:
        EnrollmentFactory(student=student, course=tomorrow.course)
    PaymentFactory(student=students[0], created_at=now - dt.timedelta(days=4))
    return {"students": students, "sessions": [tomorrow, soon]}


def test_running_a_job_writes_its_log_with_counts(busy_school):
    outcome = run_job(name="session_24h")

    log = JobExecutionLog.objects.get(pk=outcome.log_id)
    assert log.job_name == "session_reminders_24h"
    assert log.status == "success"
    assert log.records_processed == 15  # 5 emails, 5 WhatsApp, 5 in-app
    assert log.metadata["planned"] == {"email": 5, "whatsapp": 5, "inapp": 5}
    assert log.completed_at >= log.started_at
    assert log.duration_seconds >= 0


def test_run_reminders_all_twice_sends_nothing_twice(busy_school, whatsapp_sent, capsys):
    call_command("run_reminders", "all")
    first = (len(mail.outbox), len(whatsapp_sent))
    call_command("run_reminders", "all")

    assert first == (11, 11)  # 24 h and 15 min reminders to 5 students, one payment reminder
    assert (len(mail.outbox), len(whatsapp_sent)) == first
    output = capsys.readouterr().out
    assert "session_reminders_24h" in output and "deliver_messages" in output
    assert JobExecutionLog.objects.filter(status="success").count() == 22  # 11 jobs, twice


def test_dry_run_lists_who_would_get_what_and_changes_nothing(busy_school, capsys):
    call_command("run_reminders", "session_24h", "payments", "--dry-run")

    output = capsys.readouterr().out
    assert "Dry run: nothing was changed." in output
    assert busy_school["students"][0].email in output
    assert Delivery.objects.count() == 0
    assert not mail.outbox


def test_now_option_moves_the_clock(busy_school, capsys):
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).isoformat()
    call_command("run_reminders", "session_24h", "--now", later)
    assert Delivery.objects.count() == 0  # both sessions are in the past by then


def test_unknown_job_and_bad_time_are_clear_errors():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="There is no job 'nope'"):
        call_command("run_reminders", "nope")
    with pytest.raises(CommandError, match="ISO 8601"):
        call_command("run_reminders", "all", "--now", "tomorrow")


@pytest.fixture
def break_job():
    """Make a job's function fail for one test (jobs hold their functions, not dotted paths)."""
    replaced = []

    def replace(name: str, function) -> None:
        job = get_job(name)
        replaced.append((job, job.function))
        object.__setattr__(job, "function", function)  # a frozen dataclass, restored below

    yield replace
    for job, function in replaced:
        object.__setattr__(job, "function", function)


def test_one_jobs_failure_never_stops_the_others(busy_school, break_job):
    def broken(**kwargs):
        raise RuntimeError("database exploded")

    break_job("recordings", broken)
    outcomes = {outcome.job.name: outcome for outcome in run_jobs(names=["all"])}

    assert outcomes["recording_notifications"].status == "failed"
    assert "database exploded" in outcomes["recording_notifications"].error
    assert outcomes["deliver_messages"].status == "success"
    assert len(mail.outbox) == 11
    log = JobExecutionLog.objects.get(job_name="recording_notifications")
    assert log.status == "failed" and "RuntimeError" in log.error_message and "Traceback" in log.metadata["traceback"]


def test_run_reminders_exits_non_zero_when_a_job_failed(busy_school, break_job):
    break_job("payments", lambda **kw: 1 / 0)
    with pytest.raises(SystemExit) as exit_info:
        call_command("run_reminders", "payments")
    assert exit_info.value.code == 1


@contextlib.contextmanager
def lock_held_elsewhere(job_name: str):
    """Hold a job's lock from another thread (another connection) while the block runs."""
    holding, release = threading.Event(), threading.Event()

    def hold():
        try:
            with job_lock(job_name) as acquired:
                assert acquired
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    holding.wait(10)
    try:
        yield
    finally:
        release.set()
        thread.join()


def test_an_overlapping_run_of_the_same_job_is_logged_as_skipped(busy_school):
    with lock_held_elsewhere("session_reminders_24h"):
        outcome = run_job(name="session_24h")
    assert outcome.status == "skipped"
    assert JobExecutionLog.objects.get(pk=outcome.log_id).status == "skipped"
    assert Delivery.objects.count() == 0
    assert run_job(name="session_24h").status == "success"


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_four_run_reminders_processes_at_once_send_each_message_once(busy_school, tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "MOCK_MODE": "true",
        "EMAIL_FILE_PATH": str(tmp_path / "mail"),
        "WHATSAPP_FILE_PATH": str(tmp_path / "whatsapp"),
        "DJANGO_ENV": "test",
    }
    command = [sys.executable, "manage.py", "run_reminders", "all"]
    processes = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(4)
    ]
    outputs = [process.communicate(timeout=120)[0].decode() for process in processes]
    assert all(process.returncode == 0 for process in processes), outputs

    messages = len(list((tmp_path / "mail").glob("*.eml")))  # one file per email in mock mode
    whatsapp = list((tmp_path / "whatsapp").glob("*.log"))
    assert messages == 11
    assert len(whatsapp) == 11
    assert Delivery.objects.filter(status="sent").count() == 22
    assert Delivery.objects.count() == 22


def _database_url() -> str:
    db = connection.settings_dict
    return (
        f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


def test_delivery_takes_no_job_lock_so_many_workers_can_send_at_once(busy_school):
    with lock_held_elsewhere("deliver_messages"):
        outcome = run_job(name="deliver")
    assert outcome.status == "success"
