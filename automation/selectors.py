"""Reads for the jobs dashboard."""

import datetime as dt
from dataclasses import dataclass

from django_q.models import Schedule

from notifications.selectors import count_due_deliveries, oldest_due_delivery_at

from .health import job_states
from .jobs import JOBS, Job
from .schedules import TASK


@dataclass
class JobRow:
    job: Job
    schedule: str
    last_run: dict | None
    last_success: dt.datetime | None
    next_run: dt.datetime | None


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
        )
        for job in JOBS
    ]
    return {"jobs": rows, "due": count_due_deliveries(now=now), "oldest_due_at": oldest_due_delivery_at(now=now)}
