"""Factories for automation: job runs as the runner logs them."""

import datetime as dt

import factory
from django.utils import timezone

from automation.models import JobExecutionLog


class JobExecutionLogFactory(factory.django.DjangoModelFactory):
    """A successful run of the 24-hour session reminders that took 1.5 seconds."""

    class Meta:
        model = JobExecutionLog

    job_name = "session_reminders_24h"
    status = JobExecutionLog.Status.SUCCESS
    started_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(minutes=5))
    duration_seconds = 1.5
    completed_at = factory.LazyAttribute(
        lambda o: o.started_at + dt.timedelta(seconds=o.duration_seconds) if o.duration_seconds is not None else None
    )
    records_processed = 3
    error_message = ""
    metadata = factory.LazyFunction(lambda: {"planned": {"email": 3, "whatsapp": 2, "inapp": 3}})
    trigger = "schedule"
    dry_run = False

    class Params:
        running = factory.Trait(status=JobExecutionLog.Status.RUNNING, duration_seconds=None, records_processed=0)
        failed = factory.Trait(
            status=JobExecutionLog.Status.FAILED,
            records_processed=0,
            error_message="OperationalError: could not connect to server: Connection refused",
        )
