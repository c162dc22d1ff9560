"""check_health: a non-zero exit and a readable reason when something is wrong."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from automation.jobs import JOBS
from automation.models import JobExecutionLog
from automation.services import run_jobs
from notifications.models import Delivery

pytestmark = pytest.mark.django_db


def health(capsys):
    with pytest.raises(SystemExit) as exit_info:
        call_command("check_health")
        raise SystemExit(0)
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out + captured.err


def test_healthy_after_every_job_ran(capsys):
    list(run_jobs(names=["all"]))
    code, output = health(capsys)
    assert code == 0, output
    assert "OK: automation is healthy." in output


def test_a_job_that_never_ran_or_stopped_running_is_reported(capsys):
    list(run_jobs(names=["all"]))
    JobExecutionLog.objects.filter(job_name="session_reminders_15min").update(
        started_at=timezone.now() - dt.timedelta(minutes=11)
    )
    JobExecutionLog.objects.filter(job_name="payment_reminders").delete()

    code, output = health(capsys)
    assert code == 1
    assert "session_reminders_15min: no success for 11 min (expected every 5 min)" in output
    assert "payment_reminders: it has never succeeded" in output


def test_a_failed_last_run_is_reported_with_its_error(capsys):
    list(run_jobs(names=["all"]))
    JobExecutionLog.objects.create(job_name="lead_follow_ups", status="failed", error_message="RuntimeError: boom")
    code, output = health(capsys)
    assert code == 1
    assert "lead_follow_ups: its last run failed: RuntimeError: boom" in output


def test_a_delivery_backlog_older_than_the_threshold_is_reported(capsys):
    list(run_jobs(names=["all"]))
    Delivery.objects.create_single(
        kind="payment_reminder",
        channel="email",
        event_key="e",
        to_address="a@example.com",
        next_attempt_at=timezone.now() - dt.timedelta(minutes=40),
    )
    code, output = health(capsys)
    assert code == 1
    assert "deliveries: 1 waiting, the oldest for 40 min (limit 15 min); is the worker running?" in output
    assert len(JOBS) == 11


def test_a_delivery_left_unknown_past_the_threshold_fails_the_health_check(capsys, settings):
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "UNKNOWN_ALERT_MINUTES": 30}
    list(run_jobs(names=["all"]))
    delivery = Delivery.objects.create_single(
        kind="payment_reminder", channel="email", event_key="e", to_address="a@example.com"
    )
    unknown = Delivery.objects.filter(pk=delivery.pk)
    unknown.update(status="unknown", updated_at=timezone.now() - dt.timedelta(minutes=20))
    code, output = health(capsys)
    assert code == 0, output  # reconciliation still has time

    unknown.update(updated_at=timezone.now() - dt.timedelta(minutes=45))
    code, output = health(capsys)
    assert code == 1
    assert "deliveries: 1 'unknown' for more than 30 min (the oldest for 45 min)" in output


def test_a_run_killed_mid_way_is_marked_abandoned_and_reported(capsys):
    list(run_jobs(names=["all"]))
    # A run of the delivery job whose process was killed: it started, beat once, and fell silent.
    killed = JobExecutionLog.objects.create(
        job_name="deliver_messages",
        status="running",
        started_at=timezone.now() - dt.timedelta(minutes=3),
        heartbeat_at=timezone.now() - dt.timedelta(minutes=2),
        trigger="schedule",
    )
    alive = JobExecutionLog.objects.create(
        job_name="deliver_messages", status="running", heartbeat_at=timezone.now(), trigger="schedule"
    )

    code, output = health(capsys)

    killed.refresh_from_db()
    alive.refresh_from_db()
    assert (killed.status, alive.status) == ("abandoned", "running")
    assert killed.completed_at is not None
    assert code == 1
    assert "deliver_messages: 1 run(s) stopped answering and were abandoned recently" in output


def scheduler_check(capsys):
    with pytest.raises(SystemExit) as exit_info:
        call_command("check_health", "--scheduler")
        raise SystemExit(0)
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out + captured.err


def test_a_qcluster_that_completes_no_scheduled_job_while_schedules_are_due_fails_the_health_check(capsys):
    from automation.schedules import sync_schedules

    sync_schedules()
    list(run_jobs(names=["all"], trigger="schedule"))  # the cluster worked...
    JobExecutionLog.objects.update(
        started_at=timezone.now() - dt.timedelta(minutes=10), completed_at=timezone.now() - dt.timedelta(minutes=10)
    )  # ...and has done nothing for ten minutes, with deliveries due every minute

    code, output = scheduler_check(capsys)
    assert code == 1
    assert "qcluster: no scheduled job has completed for 10 min" in output
    assert "qcluster: no scheduled job" in health(capsys)[1]


def test_a_working_qcluster_and_a_cron_only_deployment_pass_the_scheduler_check(capsys):
    from automation.schedules import sync_schedules

    sync_schedules()
    list(run_jobs(names=["all"], trigger="command"))  # cron: no scheduled runs, nothing to ask of a cluster
    assert scheduler_check(capsys)[0] == 0
    list(run_jobs(names=["all"], trigger="schedule"))  # a cluster that works
    assert scheduler_check(capsys)[0] == 0
