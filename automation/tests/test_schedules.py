"""django-q2 schedules: synced from the registry, driven by django-q2's own scheduler."""

import datetime as dt

import pytest
from django.core.management import call_command
from django_q.models import Schedule
from django_q.scheduler import scheduler

from automation.jobs import JOBS, ScheduleSpec
from automation.models import JobExecutionLog
from automation.schedules import TASK, sync_schedules

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 24, 10, 7, 30, tzinfo=dt.UTC)


def test_setup_schedules_creates_one_schedule_per_job_and_is_idempotent(capsys):
    Schedule.objects.all().delete()
    first = sync_schedules(now=NOW)
    second = sync_schedules(now=NOW)

    assert sorted(first.created) == sorted(job.name for job in JOBS)
    assert second.created == second.updated == second.removed == []
    assert Schedule.objects.filter(func=TASK).count() == len(JOBS)
    call_command("setup_schedules")
    assert "unchanged" in capsys.readouterr().out


def test_schedules_follow_the_seed_and_compute_next_run():
    Schedule.objects.all().delete()
    sync_schedules(now=NOW)
    by_name = {s.name: s for s in Schedule.objects.all()}

    assert (by_name["session_reminders_24h"].schedule_type, by_name["session_reminders_24h"].minutes) == ("I", 10)
    assert by_name["session_reminders_24h"].next_run == dt.datetime(2026, 11, 24, 10, 10, tzinfo=dt.UTC)
    assert by_name["session_reminders_15min"].minutes == 5
    assert by_name["recording_notifications"].minutes == 30
    assert by_name["assignment_reminders"].minutes == 360
    assert by_name["deliver_messages"].minutes == 1
    assert by_name["payment_reminders"].schedule_type == "D"
    assert by_name["payment_reminders"].next_run == dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)
    assert by_name["lead_follow_ups"].next_run == dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
    assert by_name["payment_reminders"].args == "'payment_reminders'"


def test_a_changed_setting_updates_and_a_retired_job_is_removed(settings):
    Schedule.objects.all().delete()
    sync_schedules(now=NOW)
    Schedule.objects.create(name="old_job", func=TASK, args="'old_job'", schedule_type="I", minutes=5)
    Schedule.objects.create(name="someone_elses", func="other.task", schedule_type="I", minutes=5)
    settings.AUTOMATION_SCHEDULES = {"payment_reminders": "daily@08:30", "session_reminders_24h": "every:15"}

    result = sync_schedules(now=NOW)

    assert sorted(result.updated) == ["payment_reminders", "session_reminders_24h"]
    assert result.removed == ["old_job"]
    assert Schedule.objects.filter(name="someone_elses").exists()
    assert Schedule.objects.get(name="payment_reminders").next_run == dt.datetime(2026, 11, 25, 8, 30, tzinfo=dt.UTC)
    assert Schedule.objects.get(name="session_reminders_24h").minutes == 15


def test_bad_schedule_text_is_refused_clearly():
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="every:MINUTES"):
        ScheduleSpec.parse("sometimes")
    assert ScheduleSpec.parse("daily@10:00").next_run(after=NOW) == dt.datetime(2026, 11, 25, 10, tzinfo=dt.UTC)
    assert ScheduleSpec.parse("every:1").next_run(after=NOW) == dt.datetime(2026, 11, 24, 10, 8, tzinfo=dt.UTC)


def test_a_due_schedule_run_by_django_q_scheduler_runs_the_job_and_logs_it(settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}
    from django_q.conf import Conf

    Conf.SYNC = True
    try:
        Schedule.objects.all().delete()
        sync_schedules()
        # The last 10:00 UTC has passed without a worker: the schedule is due.
        missed = ScheduleSpec.parse("daily@10:00").next_run(after=dt.datetime.now(dt.UTC)) - dt.timedelta(days=1)
        Schedule.objects.filter(name="payment_reminders").update(next_run=missed)
        scheduler()
    finally:
        Conf.SYNC = False

    log = JobExecutionLog.objects.get(job_name="payment_reminders")
    assert (log.status, log.trigger) == ("success", "schedule")
    next_run = Schedule.objects.get(name="payment_reminders").next_run
    assert next_run > dt.datetime.now(dt.UTC) and next_run.time() == dt.time(10, 0)
