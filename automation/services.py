"""Running jobs: one at a time per job, each run logged, one job's failure never stopping the others."""

import datetime as dt
import logging
import time
import traceback
from dataclasses import dataclass, field

from django.utils import timezone

from notifications.services.dispatch import DispatchResult
from notifications.services.planning import PlanResult

from .jobs import JOBS, Job, get_job
from .locks import job_lock
from .models import JobExecutionLog

logger = logging.getLogger(__name__)
Status = JobExecutionLog.Status


@dataclass
class JobOutcome:
    job: Job
    status: str
    duration: float = 0.0
    records: int = 0
    counts: dict = field(default_factory=dict)  # planned / sent / skipped ... by reason
    error: str = ""
    preview: list = field(default_factory=list)  # dry run: who would get what
    log_id: int | None = None

    @property
    def failed(self) -> bool:
        return self.status == Status.FAILED


def summarize(result) -> tuple[int, dict]:
    """Return (records processed, counts by outcome) for a job's result."""
    if isinstance(result, PlanResult):
        counts = {
            "planned": {channel: count for channel, count in result.planned.items() if count},
            "skipped": {reason: count for reason, count in result.skipped.items() if count},
        }
        return result.total, counts
    if isinstance(result, DispatchResult):
        counts = {
            "outcomes": {str(status): count for status, count in result.outcomes.items() if count},
            "reasons": {reason: count for reason, count in result.reasons.items() if count},
        }
        return result.processed, counts
    return 0, {}


def run_job(
    *, name: str, now: dt.datetime | None = None, dry_run: bool = False, trigger: str = "command"
) -> JobOutcome:
    """Run one job now under its lock and log the run; never raises for the job's own errors."""
    job = get_job(name)
    started = timezone.now()
    now = now or started
    with job_lock(job.name, exclusive=job.exclusive) as acquired:
        if not acquired:
            log = JobExecutionLog.objects.create(
                job_name=job.name,
                status=Status.SKIPPED,
                started_at=started,
                completed_at=started,
                duration_seconds=0,
                trigger=trigger,
                dry_run=dry_run,
                error_message="Another run of this job was still in progress.",
            )
            return JobOutcome(job=job, status=Status.SKIPPED, error=log.error_message, log_id=log.pk)
        log = JobExecutionLog.objects.create(
            job_name=job.name, status=Status.RUNNING, started_at=started, trigger=trigger, dry_run=dry_run
        )
        clock = time.monotonic()
        try:
            result = job.run(now=now, dry_run=dry_run)
        except Exception as exc:
            logger.exception("Job %s failed", job.name)
            outcome = JobOutcome(job=job, status=Status.FAILED, error=f"{type(exc).__name__}: {exc}")
            metadata = {"traceback": traceback.format_exc()[-4000:]}
        else:
            records, counts = summarize(result)
            outcome = JobOutcome(
                job=job, status=Status.SUCCESS, records=records, counts=counts, preview=getattr(result, "preview", [])
            )
            metadata = counts
        outcome.duration = time.monotonic() - clock
        metadata = {**metadata, "now": now.isoformat()} if now != started else metadata
        JobExecutionLog.objects.filter(pk=log.pk).update(
            status=outcome.status,
            completed_at=timezone.now(),
            duration_seconds=round(outcome.duration, 3),
            records_processed=outcome.records,
            error_message=outcome.error,
            metadata=metadata,
        )
        outcome.log_id = log.pk
        return outcome


def run_jobs(*, names: list[str] | None = None, now=None, dry_run: bool = False, trigger: str = "command"):
    """Run the named jobs (all when none or "all" is named), in registry order; yield each outcome."""
    if not names or "all" in names:
        jobs = list(JOBS)
    else:
        wanted = {get_job(name).name for name in names}
        jobs = [job for job in JOBS if job.name in wanted]
    for job in jobs:
        yield run_job(name=job.name, now=now, dry_run=dry_run, trigger=trigger)
