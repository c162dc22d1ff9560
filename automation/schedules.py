"""Keep django-q2's Schedule rows in step with the job registry, idempotently."""

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule

from .jobs import JOBS

TASK = "automation.tasks.run_scheduled_job"


@dataclass
class SyncResult:
    created: list[str]
    updated: list[str]
    removed: list[str]
    unchanged: list[str]


@transaction.atomic
def sync_schedules(*, now: dt.datetime | None = None) -> SyncResult:
    """Create, update and remove our Schedule rows so they match the registry."""
    now = now or timezone.now()
    result = SyncResult([], [], [], [])
    ours = {schedule.name: schedule for schedule in Schedule.objects.select_for_update().filter(func=TASK)}
    for job in JOBS:
        spec = job.schedule
        wanted = {
            "func": TASK,
            "args": repr(job.name),
            "schedule_type": Schedule.MINUTES if spec.every_minutes else Schedule.DAILY,
            "minutes": spec.every_minutes,
            "repeats": -1,
        }
        schedule = ours.pop(job.name, None)
        if schedule is None:
            Schedule.objects.create(name=job.name, next_run=spec.next_run(after=now), **wanted)
            result.created.append(job.name)
            continue
        changed = {key: value for key, value in wanted.items() if getattr(schedule, key) != value}
        # A daily job must keep its time of day; an interval job its interval.
        if spec.daily_at and schedule.next_run and schedule.next_run.astimezone(dt.UTC).time() != spec.daily_at:
            changed["next_run"] = spec.next_run(after=now)
        if changed:
            if "minutes" in changed or "schedule_type" in changed:
                changed["next_run"] = spec.next_run(after=now)
            for key, value in changed.items():
                setattr(schedule, key, value)
            schedule.save()
            result.updated.append(job.name)
        else:
            result.unchanged.append(job.name)
    for name, schedule in ours.items():
        schedule.delete()
        result.removed.append(name)
    return result
