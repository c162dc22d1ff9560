"""Is the automation healthy? Each job succeeded recently, none failed or was abandoned last, the
queue is moving, no `unknown` delivery waits unsettled too long, and a qcluster that runs the
schedules here is still doing scheduled work."""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Max, Q
from django.utils.module_loading import import_string

from notifications.api import LedgerHealth, count_due_deliveries, ledger_health, oldest_due_delivery_at
from notifications.api import conf as notifications_conf
from notifications.api import held_back as whatsapp_held_back

from .conf import conf
from .jobs import JOBS, Job
from .models import JobExecutionLog

Status = JobExecutionLog.Status
ABANDONED_REPORTED_FOR = dt.timedelta(hours=1)


@dataclass
class JobHealth:
    job: Job
    last_success: dt.datetime | None
    last_status: str
    last_error: str
    problem: str = ""


@dataclass
class Health:
    jobs: list[JobHealth]
    due_deliveries: int
    oldest_due_at: dt.datetime | None
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def job_states(*, names: list[str] | None = None) -> dict[str, dict]:
    """Return, per job name, its last success time and its last run (status, error, start)."""
    wanted = names or [job.name for job in JOBS]
    last_success = dict(
        JobExecutionLog.objects.filter(job_name__in=wanted, status=Status.SUCCESS, dry_run=False)
        .values("job_name")
        .annotate(at=Max("started_at"))
        .values_list("job_name", "at")
    )
    states = {name: {"last_success": last_success.get(name), "last": None} for name in wanted}
    # The latest finished run of each job: one small query per job over an index.
    for name in wanted:
        states[name]["last"] = (
            JobExecutionLog.objects.filter(job_name=name, dry_run=False)
            .filter(~Q(status=Status.RUNNING))
            .order_by("-started_at", "-id")
            .values("status", "error_message", "started_at")
            .first()
        )
    return states


def check_health(
    *, now: dt.datetime, max_delivery_lag: dt.timedelta, max_unknown_age: dt.timedelta | None = None
) -> Health:
    """Return the automation's health and every problem found, in words an operator can act on."""
    states = job_states()
    abandoned = _recently_abandoned(states, now=now)
    problems, jobs = [], []
    for job in JOBS:
        state = states[job.name]
        last = state["last"] or {}
        health = JobHealth(job, state["last_success"], last.get("status", "never run"), last.get("error_message", ""))
        limit = 2 * job.schedule.interval
        if last.get("status") == Status.FAILED:
            health.problem = f"its last run failed: {health.last_error or 'no error recorded'}"
        elif abandoned.get(job.name):
            health.problem = (
                f"{abandoned[job.name]} run(s) stopped answering and were abandoned recently "
                "(a worker killed or timed out)"
            )
        elif health.last_success is None:
            health.problem = "it has never succeeded"
        elif now - health.last_success > limit:
            ago = now - health.last_success
            health.problem = f"no success for {_words(ago)} (expected {job.schedule})"
        if health.problem:
            problems.append(f"{job.name}: {health.problem}")
        jobs.append(health)
    due = count_due_deliveries(now=now)
    oldest = oldest_due_delivery_at(now=now)
    if oldest and now - oldest > max_delivery_lag:
        problems.append(
            f"deliveries: {due} waiting, the oldest for {_words(now - oldest)} (limit {_words(max_delivery_lag)}); "
            "is the worker running?"
        )
    problems += scheduler_problems(now=now)
    problems += _ledger_problems(now=now, max_unknown_age=max_unknown_age)
    waiting = whatsapp_held_back(now=now)
    if waiting:
        problems.append(
            f"whatsapp: Meta's limit of {notifications_conf.whatsapp_daily_unique_recipients} people in 24 hours "
            f"is reached; {waiting} message(s) to numbers not yet reached wait until the window moves (urgent ones "
            "first); "
            "raise WHATSAPP_DAILY_UNIQUE_RECIPIENTS when Meta raises the sender's tier"
        )
    return Health(jobs=jobs, due_deliveries=due, oldest_due_at=oldest, problems=problems)


def _recently_abandoned(states: dict[str, dict], *, now: dt.datetime) -> dict[str, int]:
    """Return, per job, how many of its runs were abandoned after its last success or within the
    last hour (twice its interval if longer): a killed worker is worth a look even if the next run
    went well."""
    found: dict[str, int] = {}
    for job in JOBS:
        since = now - max(ABANDONED_REPORTED_FOR, 2 * job.schedule.interval)
        recent = Q(completed_at__gte=since)
        if states[job.name]["last_success"]:
            recent |= Q(started_at__gt=states[job.name]["last_success"])
        else:
            recent = Q()
        name = job.name
        count = JobExecutionLog.objects.filter(recent, job_name=name, status=Status.ABANDONED, dry_run=False).count()
        if count:
            found[name] = count
    return found


# A deployment whose qcluster ran a scheduled job within this long is one that runs the qcluster
# (one that only uses cron has no scheduled runs, and is not asked about it).
QCLUSTER_IN_USE_WITHIN = dt.timedelta(days=1)


def scheduler_problems(*, now: dt.datetime) -> list[str]:
    """A qcluster that stays alive and does nothing (django-q2 after a worker child was SIGKILLed
    holding its task queue's lock): schedules fall due and no scheduled run completes. The
    heartbeat is the scheduled work itself: the last scheduled run completed (or, for a cluster
    younger than that, when the cluster started)."""
    from django_q.models import Schedule

    last = (
        JobExecutionLog.objects.filter(trigger="schedule", dry_run=False, completed_at__isnull=False)
        .aggregate(at=Max("completed_at"))
        .get("at")
    )
    born = _youngest_cluster_born()
    if last is not None and now - last > QCLUSTER_IN_USE_WITHIN:
        last = None  # this deployment stopped using the qcluster (cron now), unless one runs
    since = max((moment for moment in (last, born) if moment), default=None)
    if since is None or not Schedule.objects.exists():
        return []
    shortest = min(job.schedule.interval for job in JOBS)
    limit = max(dt.timedelta(seconds=conf.scheduler_stall_seconds), shortest)
    if now - since <= limit:
        return []
    return [
        f"qcluster: no scheduled job has completed for {_words(now - since)} although schedules were due (every "
        f"{_words(shortest)} at the most): the cluster is stalled or stopped; restart it (see README, Operating the "
        "workers)"
    ]


def _youngest_cluster_born() -> dt.datetime | None:
    """When the youngest live qcluster started, from django-q2's own stats (each cluster refreshes
    them every guard cycle, and they expire seconds after it stops), or None when none runs."""
    from django_q.status import Stat

    try:
        births = [stat.tob for stat in Stat.get_all() if stat.tob]
    except Exception:  # the broker cannot be asked: the job logs alone decide
        return None
    return max(births, default=None)


def _ledger_problems(*, now: dt.datetime, max_unknown_age: dt.timedelta | None) -> list[str]:
    """What the ledger needs from staff: unsettled `unknown` deliveries, paused channels, WhatsApp
    templates never synced."""
    if max_unknown_age is None:
        max_unknown_age = dt.timedelta(minutes=notifications_conf.unknown_alert_minutes)
    provider = import_string(settings.WHATSAPP_BACKEND).provider
    ledger = ledger_health(unsettled_before=now - max_unknown_age, whatsapp_provider=provider)
    problems = _unsettled_problems(ledger, now=now, max_unknown_age=max_unknown_age)
    problems += _paused_channel_problems(ledger, now=now)
    if not ledger.whatsapp_templates_synced:
        problems.append(
            f"whatsapp: {provider}'s templates were never synced, so none is checked for approval; "
            "run `manage.py whatsapp_templates sync`"
        )
    return problems


def _unsettled_problems(ledger: LedgerHealth, *, now: dt.datetime, max_unknown_age: dt.timedelta) -> list[str]:
    """`unknown` deliveries reconciliation has not settled within the limit (staff must look)."""
    if not ledger.unsettled:
        return []
    return [
        f"deliveries: {ledger.unsettled} 'unknown' for more than {_words(max_unknown_age)} (the oldest for "
        f"{_words(now - ledger.oldest_unsettled_at)}); reconciliation could not settle them: check them with the "
        "provider and settle them in the admin"
    ]


def _paused_channel_problems(ledger: LedgerHealth, *, now: dt.datetime) -> list[str]:
    """Channels whose provider cannot take messages: their messages wait, nothing fails, someone must act."""
    return [
        f"{pause.channel}: sending paused for {_words(now - pause.since)}: the provider cannot take messages "
        f"({pause.reason[:200]}); fix the account (credentials, credit, sender) or the provider's address or "
        "network; "
        f"{pause.failures} tr{'y' if pause.failures == 1 else 'ies'} refused, the next "
        f"{'in ' + _words(pause.until - now) if pause.until > now else 'with the next batch'}"
        for pause in ledger.paused_channels
    ]


def _words(delta: dt.timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"
