"""Reads for the jobs dashboard."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Max, Q
from django.utils import timezone
from django_q.models import Schedule

from notifications.api import count_due_deliveries, oldest_due_delivery_at

from .health import job_states
from .jobs import JOBS, Job
from .models import JobExecutionLog
from .schedules import TASK


@dataclass
class JobRow:
    job: Job
    schedule: str
    last_run: dict | None
    last_success: dt.datetime | None
    next_run: dt.datetime | None
    overdue: bool = False  # the next run's time has passed and no worker took it

    @property
    def schedule_local(self) -> str:
        return schedule_in_zone(self.job)


def schedule_in_zone(job: Job) -> str:
    """A job's schedule in the current zone ("daily at 15:30 IST" for daily@10:00 UTC)."""
    spec = job.schedule
    if spec.daily_at is None:
        return str(spec)
    today = dt.datetime.combine(timezone.now().date(), spec.daily_at, tzinfo=dt.UTC)
    return f"daily at {timezone.localtime(today):%H:%M %Z}"


def jobs_overview(*, now: dt.datetime) -> dict:
    """Return every job with its schedule, last run, next run, and the delivery backlog."""
    states = job_states()
    next_runs = dict(Schedule.objects.filter(func=TASK).values_list("name", "next_run"))
    rows = [
        JobRow(
            job=job,
            schedule=str(job.schedule),
            last_run=states[job.name]["last"],
            last_success=states[job.name]["last_success"],
            next_run=next_runs.get(job.name),
            overdue=bool(next_runs.get(job.name) and next_runs[job.name] < now),
        )
        for job in JOBS
    ]
    return {"jobs": rows, "due": count_due_deliveries(now=now), "oldest_due_at": oldest_due_delivery_at(now=now)}


@dataclass
class SilentJob:
    job: Job
    last_run: dt.datetime | None  # the last run by a worker or cron (not "Run now", not a dry run)

    @property
    def schedule_local(self) -> str:
        return schedule_in_zone(self.job)


def silent_jobs(*, now: dt.datetime) -> list[SilentJob]:
    """Return the jobs nothing has run on schedule for twice their interval: no worker (or cron) is running them."""
    last_runs = dict(
        JobExecutionLog.objects.filter(dry_run=False)
        .exclude(Q(trigger__startswith="admin:"))
        .values("job_name")
        .annotate(at=Max("started_at"))
        .values_list("job_name", "at")
    )
    return [
        SilentJob(job=job, last_run=last_runs.get(job.name))
        for job in JOBS
        if last_runs.get(job.name) is None or now - last_runs[job.name] > 2 * job.schedule.interval
    ]
