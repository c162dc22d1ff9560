"""Running jobs: one at a time per job, each run logged, one job's failure never stopping the others."""

import contextlib
import datetime as dt
import logging
import threading
import time
import traceback
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from notifications.api import DispatchResult, PlanResult, ReconcileResult, RetentionResult

from .jobs import JOBS, Job, get_job
from .locks import job_lock
from .models import JobExecutionLog

logger = logging.getLogger(__name__)
Status = JobExecutionLog.Status
# A running run writes its heartbeat this often; one silent for HEARTBEAT_GRACE has stopped
# (killed with SIGKILL, its machine gone) and is marked abandoned.
HEARTBEAT_SECONDS = 10
HEARTBEAT_GRACE = dt.timedelta(seconds=60)


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
        if result.requeued:
            counts["requeued"] = result.requeued
        return result.processed, counts
    if isinstance(result, ReconcileResult | RetentionResult):
        return result.processed, {"outcomes": {str(name): count for name, count in result.outcomes.items() if count}}
    return 0, {}


def abandon_stale_runs(*, now: dt.datetime | None = None) -> int:
    """Mark `running` job runs that stopped answering as abandoned; return how many.

    A run has stopped when its heartbeat (or, before the first one, its start) is older than
    HEARTBEAT_GRACE, or when a scheduled run has outlived django-q2's timeout (which kills it).
    """
    now = now or timezone.now()
    cutoff = now - HEARTBEAT_GRACE
    silent = Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    timed_out = Q(trigger="schedule", started_at__lt=now - JOBS[0].timeout)
    stale = JobExecutionLog.objects.filter(silent | timed_out, status=Status.RUNNING)
    count = stale.update(
        status=Status.ABANDONED,
        completed_at=now,
        error_message="The run stopped answering (its process was killed or timed out) and never recorded an outcome.",
    )
    if count:
        logger.warning("%d job runs stopped answering and were marked abandoned.", count)
    return count


@contextlib.contextmanager
def heartbeat(log_id: int, *, every: float = HEARTBEAT_SECONDS):
    """Write the run's heartbeat every `every` seconds from a thread of its own while the block runs."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(every):
                JobExecutionLog.objects.filter(pk=log_id, status=Status.RUNNING).update(heartbeat_at=timezone.now())
        except Exception:  # a lost database connection: the run itself will say what happened
            logger.exception("Heartbeat of job run %s stopped", log_id)
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"job-heartbeat-{log_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def run_job(
    *, name: str, now: dt.datetime | None = None, dry_run: bool = False, trigger: str = "command"
) -> JobOutcome:
    """Run one job now under its lock and log the run; never raises for the job's own errors."""
    job = get_job(name)
    started = timezone.now()
    abandon_stale_runs(now=started)
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
            job_name=job.name,
            status=Status.RUNNING,
            started_at=started,
            heartbeat_at=started,
            trigger=trigger,
            dry_run=dry_run,
        )
        outcome, metadata = _run_logged(job, log_id=log.pk, now=now, dry_run=dry_run)
        metadata = {**metadata, "now": now.isoformat()} if now else metadata
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


def _run_logged(job: Job, *, log_id: int, now: dt.datetime | None, dry_run: bool) -> tuple[JobOutcome, dict]:
    """Run the job with its log's heartbeat beating; return its outcome (timed) and what its log
    keeps (the counts, or the traceback of a failure)."""
    clock = time.monotonic()
    try:
        with heartbeat(log_id):
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
    return outcome, metadata


def run_jobs(*, names: list[str] | None = None, now=None, dry_run: bool = False, trigger: str = "command"):
    """Run the named jobs (all when none or "all" is named), in registry order; yield each outcome."""
    if not names or "all" in names:
        jobs = list(JOBS)
    else:
        wanted = {get_job(name).name for name in names}
        jobs = [job for job in JOBS if job.name in wanted]
    for job in jobs:
        yield run_job(name=job.name, now=now, dry_run=dry_run, trigger=trigger)
