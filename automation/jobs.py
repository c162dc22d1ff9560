"""
The job registry: every scheduled job, its short name, what it runs and when by default.

A job's function takes `now` and `dry_run` and returns a PlanResult (planning jobs), a
DispatchResult (delivery) or a ReconcileResult (reconciliation). Long-running jobs take the real
time at each step themselves: they get `now=None` unless a test or `--now` sets the clock.
Schedules can be overridden per job with AUTOMATION_SCHEDULES, e.g.
"payment_reminders=daily@09:30,session_reminders_24h=every:5".
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from leads.campaigns import plan_lead_follow_ups
from lms.reach import run_reach_ladder
from lms.reminders import (
    plan_assignment_reminders,
    plan_payment_reminders,
    plan_recording_notifications,
    plan_session_reminders_15min,
    plan_session_reminders_24h,
)
from notifications.api import (
    DispatchResult,
    ReconcileResult,
    RetentionResult,
    count_due_deliveries,
    count_unknown_deliveries,
    dispatch_due_deliveries,
    plan_digests,
    purge_old_deliveries,
    purge_rows,
    reconcile_unknown_deliveries,
)
from notifications.api import conf as notifications_conf

from .conf import conf


@dataclass(frozen=True)
class ScheduleSpec:
    """Every N minutes, or daily at HH:MM UTC."""

    every_minutes: int | None = None
    daily_at: dt.time | None = None

    @classmethod
    def parse(cls, text: str) -> "ScheduleSpec":
        kind, _, value = text.strip().partition(":") if text.startswith("every") else text.strip().partition("@")
        try:
            if kind == "every":
                minutes = int(value)
                if minutes < 1:
                    raise ValueError
                return cls(every_minutes=minutes)
            if kind == "daily":
                return cls(daily_at=dt.time.fromisoformat(value))
        except ValueError:
            pass
        raise ImproperlyConfigured(f"Cannot read the schedule {text!r}: use 'every:MINUTES' or 'daily@HH:MM' (UTC).")

    def __str__(self) -> str:
        if self.every_minutes == 1:
            return "every minute"
        if self.every_minutes and self.every_minutes % 60 == 0:
            return f"every {self.every_minutes // 60} h"
        if self.every_minutes:
            return f"every {self.every_minutes} min"
        return f"daily at {self.daily_at:%H:%M} UTC"

    def next_run(self, *, after: dt.datetime) -> dt.datetime:
        """Return the first run time strictly after `after` (aligned to the interval or the time of day)."""
        after = after.astimezone(dt.UTC)
        if self.every_minutes:
            step = self.every_minutes * 60
            epoch = int(after.timestamp())
            return dt.datetime.fromtimestamp((epoch // step + 1) * step, dt.UTC)
        candidate = dt.datetime.combine(after.date(), self.daily_at, tzinfo=dt.UTC)
        return candidate if candidate > after else candidate + dt.timedelta(days=1)

    @property
    def interval(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.every_minutes) if self.every_minutes else dt.timedelta(days=1)


@dataclass(frozen=True)
class Job:
    name: str
    short_name: str
    function: Callable  # takes now and dry_run
    default_schedule: str
    description: str
    # Planning jobs run one at a time; delivery may run in many workers at once (rows are
    # claimed with SKIP LOCKED), so it takes no job lock.
    exclusive: bool = True
    # Takes the real time at each step itself (a long dispatch run): called with now=None unless a
    # test or --now sets the clock. Other jobs decide everything from one `now`, taken at start.
    real_clock: bool = False
    # How finely tomorrow's outbox samples this job's dry run through the next 24 h (automation.outbox):
    # no coarser than the narrowest window its rule plans in ("starting soon": 15 minutes).
    outbox_step: dt.timedelta = dt.timedelta(hours=1)

    @property
    def schedule(self) -> ScheduleSpec:
        return ScheduleSpec.parse(conf.schedules.get(self.name, self.default_schedule))

    @property
    def timeout(self) -> dt.timedelta:
        """How long django-q2 lets a run of this job live before killing it (Q_TIMEOUT)."""
        return dt.timedelta(seconds=conf.task_timeout)

    def run(self, *, now: dt.datetime | None, dry_run: bool):
        if not self.real_clock:
            now = now or timezone.now()
        return self.function(now=now, dry_run=dry_run)


def deliver_messages(*, now: dt.datetime | None = None, dry_run: bool = False):
    """The delivery job: dispatch the ledger's due rows (a dry run only counts them).

    A run stops claiming after DISPATCH_RUN_SECONDS, so it ends (and its worker can stop or take
    the next task) well within its schedule's minute and django-q2's timeout; the next run goes on.
    """
    if dry_run:
        result = DispatchResult()
        result.outcomes["due"] = count_due_deliveries(now=now or timezone.now())
        return result
    return dispatch_due_deliveries(now=now, max_seconds=notifications_conf.dispatch_run_seconds)


def reconcile_deliveries(*, now: dt.datetime | None = None, dry_run: bool = False):
    """The reconciliation job: settle `unknown` deliveries from what the provider says (a dry run counts them)."""
    if dry_run:
        result = ReconcileResult()
        result.outcomes["unknown"] = count_unknown_deliveries()
        return result
    return reconcile_unknown_deliveries(now=now, max_seconds=notifications_conf.dispatch_run_seconds)


def purge_old_records(*, now: dt.datetime | None = None, dry_run: bool = False) -> RetentionResult:
    """The retention job: old deliveries (folded into daily counts), job logs and django-q2 task results,
    each in small batches (a dry run counts the deliveries only)."""
    from django_q.models import Task

    from .models import JobExecutionLog

    limit = notifications_conf.dispatch_run_seconds
    result = purge_old_deliveries(now=now, dry_run=dry_run, max_seconds=limit)
    if dry_run:
        return result
    now = now or timezone.now()
    result.outcomes["job_logs"] = purge_rows(
        model=JobExecutionLog,
        field_name="started_at",
        before=now - dt.timedelta(days=conf.job_log_retention_days),
        max_seconds=limit,
    )
    result.outcomes["tasks"] = purge_rows(
        model=Task,
        field_name="stopped",
        before=now - dt.timedelta(days=conf.task_retention_days),
        max_seconds=limit,
    )
    return result


JOBS: tuple[Job, ...] = (
    Job(
        "session_reminders_24h",
        "session_24h",
        plan_session_reminders_24h,
        "every:10",
        "“Starts Tomorrow” to students of sessions 24 h away or less (not under 1 h).",
    ),
    Job(
        "session_reminders_15min",
        "session_15min",
        plan_session_reminders_15min,
        "every:5",
        "“Starting Soon” to students of sessions 15 minutes away or less.",
        outbox_step=dt.timedelta(minutes=15),
    ),
    Job(
        "reach_ladder",
        "reach",
        run_reach_ladder,
        "every:1",
        "The reach ladder: the next channel for students no session reminder reached (REACH_MINUTES before).",
    ),
    Job(
        "recording_notifications",
        "recordings",
        plan_recording_notifications,
        "every:30",
        "“Recording Available” when a recording is made visible to students.",
    ),
    Job(
        "assignment_reminders",
        "assignments",
        plan_assignment_reminders,
        "every:360",
        "“Assignment Due Soon” to students who have not submitted, 48 h before the deadline.",
    ),
    Job(
        "payment_reminders",
        "payments",
        plan_payment_reminders,
        "daily@10:00",
        "“Payment Reminder” for payments pending 3 days or more.",
    ),
    Job(
        "lead_follow_ups",
        "leads",
        plan_lead_follow_ups,
        "daily@09:00",
        "Day 3 and Day 7 campaign emails to leads that have not converted.",
    ),
    Job(
        "attention_digests",
        "digests",
        plan_digests,
        "every:15",
        "The digest of messages folded past a student's daily cap, at their chosen hour.",
    ),
    Job(
        "deliver_messages",
        "deliver",
        deliver_messages,
        "every:1",
        "Sends every due message in the delivery ledger.",
        exclusive=False,
        real_clock=True,
    ),
    Job(
        "reconcile_deliveries",
        "reconcile",
        reconcile_deliveries,
        "every:5",
        "Asks the provider what became of each message whose answer was lost (status unknown) and settles it.",
        real_clock=True,
    ),
    Job(
        "purge_old_records",
        "retention",
        purge_old_records,
        # Hourly, each run under a minute: a day's rows at the large size (2.3M) go in a few runs.
        "every:60",
        "Removes finished deliveries, job logs and task results past their age, keeping daily delivery counts.",
        real_clock=True,
    ),
)
BY_NAME = {job.name: job for job in JOBS} | {job.short_name: job for job in JOBS}


def get_job(name: str) -> Job:
    """Return the job called `name` (full or short name)."""
    try:
        return BY_NAME[name]
    except KeyError:
        names = ", ".join(f"{job.short_name} ({job.name})" for job in JOBS)
        raise LookupError(f"There is no job {name!r}. Jobs: {names}, or all.") from None
