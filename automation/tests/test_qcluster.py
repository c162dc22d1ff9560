"""End to end: a real `manage.py qcluster` process works a due schedule and logs the job."""

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django_q.models import Schedule

from automation.conf import conf
from automation.models import JobExecutionLog
from automation.schedules import sync_schedules

ROOT = Path(settings.BASE_DIR)
pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _database_url() -> str:
    db = connection.settings_dict
    return (
        f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


def _run_cluster_until_logged(tmp_path, extra_env: dict) -> JobExecutionLog:
    sync_schedules()
    Schedule.objects.filter(name="payment_reminders").update(next_run=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DJANGO_ENV": "test",
        "MOCK_MODE": "true",
        "EMAIL_FILE_PATH": str(tmp_path / "mail"),
        "WHATSAPP_FILE_PATH": str(tmp_path / "whatsapp"),
        "Q_WORKERS": "1",
        "Q_POLL": "0.2",
        **extra_env,
    }
    with open(tmp_path / "qcluster.log", "w") as log_file:
        cluster = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
        try:
            return _wait_for_log(cluster, tmp_path)
        finally:
            cluster.send_signal(signal.SIGTERM)
            try:
                cluster.wait(timeout=30)
            except subprocess.TimeoutExpired:
                cluster.kill()


def _wait_for_log(cluster, tmp_path) -> JobExecutionLog:
    deadline = time.monotonic() + 90  # django-q2's guard runs the scheduler every 30 s
    while time.monotonic() < deadline:
        log = JobExecutionLog.objects.filter(job_name="payment_reminders", trigger="schedule").first()
        if log and log.status != "running":
            return log
        assert cluster.poll() is None, (tmp_path / "qcluster.log").read_text()
        time.sleep(0.5)
    pytest.fail("qcluster did not run the due schedule in time:\n" + (tmp_path / "qcluster.log").read_text())


def test_qcluster_with_the_orm_broker_runs_a_due_schedule(tmp_path):
    log = _run_cluster_until_logged(tmp_path, {"REDIS_URL": ""})
    assert log.status == "success"


def test_qcluster_with_the_redis_broker_runs_a_due_schedule(tmp_path):
    redis_url = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15")
    import redis

    try:
        redis.Redis.from_url(redis_url).ping()
    except redis.ConnectionError:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"Redis is not running at {redis_url}")
    log = _run_cluster_until_logged(tmp_path, {"REDIS_URL": redis_url})
    assert log.status == "success"


def test_qcluster_stops_on_sigterm_within_seconds_while_a_slow_provider_holds_a_backlog(tmp_path):
    """A delivery run ends after DISPATCH_RUN_SECONDS, so SIGTERM is not held up by a backlog behind
    a slow provider (django-q2 waits for a worker's task before it stops), and the run ends logged."""
    from django_q.tasks import async_task

    from notifications.models import Delivery
    from notifications.services.planning import PlannedMessage, Recipient, plan_messages
    from tests.fakes import FakeProvider, twilio_ok

    plan_messages(
        kind="payment_reminder",
        messages=(
            PlannedMessage(
                recipient=Recipient(user_id=None, phone=f"+9198766{i:05d}", whatsapp_opt_in=True, name=f"P {i}"),
                event_key=f"q-{i}",
                context={"amount": "₹5,000", "payment_url": "https://pay.example.com/x"},
                subject_type="tests.event",
                subject_id=i,
            )
            for i in range(60)
        ),
    )
    with FakeProvider(default=twilio_ok, latency=1.0) as twilio:
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "DJANGO_ENV": "test",
            "MOCK_MODE": "false",
            "REDIS_URL": "",
            "Q_WORKERS": "1",
            "Q_POLL": "0.2",
            "NOTIFICATIONS_DISPATCH_RUN_SECONDS": "3",
            "WHATSAPP_BACKEND": "notifications.channels.whatsapp.twilio.WhatsAppBackend",
            "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
            "TWILIO_AUTH_TOKEN": "secret",
            "TWILIO_WHATSAPP_FROM": "+14155238886",
            "TWILIO_API_BASE_URL": twilio.url,
            "TWILIO_CONTENT_SIDS": "payment_reminder=HX" + "b" * 32,
            "TWILIO_TIMEOUT": "5",
        }
        with open(tmp_path / "qcluster.log", "w") as log_file:
            cluster = subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT
            )
            try:
                async_task("automation.tasks.run_scheduled_job", "deliver_messages")
                deadline = time.monotonic() + 90
                while not twilio.requests and time.monotonic() < deadline:
                    assert cluster.poll() is None, (tmp_path / "qcluster.log").read_text()
                    time.sleep(0.2)
                assert twilio.requests, "the worker never sent:\n" + (tmp_path / "qcluster.log").read_text()
                cluster.send_signal(signal.SIGTERM)
                asked = time.monotonic()
                cluster.wait(timeout=60)
                stopped_after = time.monotonic() - asked
            finally:
                if cluster.poll() is None:
                    cluster.kill()
                    cluster.wait()

    # 60 messages at a second each would have held the worker for a minute; the run stopped at its bound.
    assert stopped_after < 20, (stopped_after, (tmp_path / "qcluster.log").read_text())
    run = JobExecutionLog.objects.get(job_name="deliver_messages")
    assert run.status == "success" and run.completed_at
    statuses = set(Delivery.objects.values_list("status", flat=True))
    assert statuses == {"sent", "pending"}
    assert Delivery.objects.filter(status="sent").count() == len(twilio.messages) < 60


def test_a_qcluster_whose_worker_child_is_killed_works_again_or_check_health_says_it_stalled(tmp_path):
    """SIGKILL a qcluster's worker child. django-q2's Sentinel starts another, but a worker killed while
    it waited for a task dies holding the task queue's lock: the new one waits on that lock for ever,
    and the cluster stays alive doing nothing (and deaf to SIGTERM). Either work resumes by itself, or
    `check_health --scheduler` (the supervisor's liveness check) says the cluster stalled, and the
    restart it asks for resumes work."""
    from automation.health import scheduler_problems

    redis_url = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15")
    import redis

    try:
        redis.Redis.from_url(redis_url).ping()
    except redis.ConnectionError:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"Redis is not running at {redis_url}")
    redis.Redis.from_url(redis_url).flushdb()
    sync_schedules()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DJANGO_ENV": "test",
        "MOCK_MODE": "true",
        "EMAIL_FILE_PATH": str(tmp_path / "mail"),
        "WHATSAPP_FILE_PATH": str(tmp_path / "whatsapp"),
        "REDIS_URL": redis_url,
        "Q_WORKERS": "1",
        "Q_POLL": "0.2",
    }
    log_path = tmp_path / "qcluster.log"

    def start():
        with open(log_path, "a") as log_file:
            return subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"],
                cwd=ROOT,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its children go with it when it is stopped for good
            )

    def runs_after(moment: dt.datetime, seconds: float, cluster) -> bool:
        Schedule.objects.filter(name="payment_reminders").update(next_run=moment - dt.timedelta(minutes=1))
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if JobExecutionLog.objects.filter(
                job_name="payment_reminders", trigger="schedule", started_at__gt=moment, completed_at__isnull=False
            ).exists():
                return True
            assert cluster.poll() is None, log_path.read_text()
            time.sleep(0.5)
        return False

    def stop(cluster) -> None:
        cluster.send_signal(signal.SIGTERM)
        try:
            cluster.wait(timeout=15)
        except subprocess.TimeoutExpired:  # deaf to SIGTERM: what a supervisor's stop timeout does next
            os.killpg(cluster.pid, signal.SIGKILL)
            cluster.wait()

    cluster = start()
    try:
        assert runs_after(dt.datetime.now(dt.UTC), 90, cluster), "the cluster never worked:\n" + log_path.read_text()
        time.sleep(3)  # the due tasks done: the worker waits for the next one, holding the queue's lock
        workers = [int(pid) for pid in re.findall(r"ready for work at (\d+)", log_path.read_text())]
        assert workers, log_path.read_text()
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        killed_at = dt.datetime.now(dt.UTC)
        resumed = runs_after(killed_at, 75, cluster)
        if not resumed:
            # Alive, and nothing ran although a schedule was due: check_health fails (here at the
            # moment its limit is reached), and the supervisor restarts the cluster.
            limit = dt.timedelta(seconds=conf.scheduler_stall_seconds + 180)
            assert scheduler_problems(now=killed_at + limit), "the stall went unnoticed"
            stop(cluster)
            cluster = start()
            resumed = runs_after(dt.datetime.now(dt.UTC), 90, cluster)
        assert resumed, "work did not resume:\n" + log_path.read_text()
        assert not scheduler_problems(now=dt.datetime.now(dt.UTC))
    finally:
        if cluster.poll() is None:
            os.killpg(cluster.pid, signal.SIGKILL)
            cluster.wait()
