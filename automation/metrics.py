"""
Metrics for Prometheus (prometheus-client), read fresh on each scrape from what every machine
shares (PostgreSQL, Redis), so any web process answers for the whole deployment:

- coursehub_backlog{priority,channel}: deliveries due now and not yet claimed
- coursehub_deliveries_in_state{channel,status}: `sending` now, and `unknown` (need the provider or staff)
- coursehub_dispatch_outcomes_total{channel,status}: every worker's outcomes (sent, failed, ...),
  counted in Redis since it started (none without REDIS_URL)
- coursehub_channel_paused{channel}: 1 while a channel's provider account cannot send
- coursehub_job_last_duration_seconds{job}, coursehub_job_last_success_timestamp_seconds{job},
  coursehub_job_runs{job,status} (the last 24 hours)
- coursehub_worker_last_beat_timestamp_seconds{host,pid,cluster}, coursehub_worker_tasks_done{...}
"""

import datetime as dt

from django.db.models import Count
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from notifications.api import Channel, backlog, dispatch_totals, in_flight_and_unknown, paused_channels

from .health import job_states
from .heartbeats import recent_workers
from .jobs import JOBS
from .models import JobExecutionLog


class LedgerCollector:
    """Collects the figures above at scrape time (prometheus-client's custom collector)."""

    def collect(self):
        now = timezone.now()
        waiting = GaugeMetricFamily(
            "coursehub_backlog", "Deliveries due now, by priority and channel", labels=["priority", "channel"]
        )
        for row in backlog(now=now):
            waiting.add_metric([str(row["priority"]), row["channel"]], row["count"])
        yield waiting

        states = GaugeMetricFamily(
            "coursehub_deliveries_in_state", "Deliveries sending or unknown", labels=["channel", "status"]
        )
        for row in in_flight_and_unknown():
            states.add_metric([row["channel"], row["status"]], row["count"])
        yield states

        outcomes = CounterMetricFamily(
            "coursehub_dispatch_outcomes",
            "Dispatch outcomes of every worker, by channel and status",
            labels=["channel", "status"],
        )
        for (channel, status), count in sorted(dispatch_totals().items()):
            outcomes.add_metric([channel, status], count)
        yield outcomes

        paused = set(paused_channels())
        pauses = GaugeMetricFamily("coursehub_channel_paused", "1 while a channel cannot send", labels=["channel"])
        for channel in Channel.values:
            pauses.add_metric([channel], int(channel in paused))
        yield pauses

        yield from _job_metrics(now)
        yield from _worker_metrics(now)


def _job_metrics(now: dt.datetime):
    last = GaugeMetricFamily("coursehub_job_last_duration_seconds", "The last finished run's duration", labels=["job"])
    success = GaugeMetricFamily(
        "coursehub_job_last_success_timestamp_seconds", "When the job last succeeded (Unix time)", labels=["job"]
    )
    runs = GaugeMetricFamily("coursehub_job_runs", "Runs in the last 24 hours, by status", labels=["job", "status"])
    durations = _last_durations()
    for name, state in job_states().items():
        if name in durations:
            last.add_metric([name], durations[name])
        if state["last_success"]:
            success.add_metric([name], state["last_success"].timestamp())
    counted = (
        JobExecutionLog.objects.filter(dry_run=False, started_at__gte=now - dt.timedelta(days=1))
        .values("job_name", "status")
        .annotate(count=Count("id"))
    )
    for row in counted:
        runs.add_metric([row["job_name"], row["status"]], row["count"])
    yield from (last, success, runs)


def _last_durations() -> dict[str, float]:
    """Each job's last finished run's duration (one small query per job over its index)."""
    found = {}
    for job in JOBS:
        value = (
            JobExecutionLog.objects.filter(job_name=job.name, dry_run=False, duration_seconds__isnull=False)
            .order_by("-started_at")
            .values_list("duration_seconds", flat=True)
            .first()
        )
        if value is not None:
            found[job.name] = value
    return found


def _worker_metrics(now: dt.datetime):
    beat = GaugeMetricFamily(
        "coursehub_worker_last_beat_timestamp_seconds",
        "A worker's last heartbeat (Unix time)",
        labels=["host", "pid", "cluster"],
    )
    done = GaugeMetricFamily(
        "coursehub_worker_tasks_done", "Tasks a worker has done since it started", labels=["host", "pid", "cluster"]
    )
    for worker in recent_workers(now=now):
        labels = [worker.host, str(worker.pid), worker.cluster]
        beat.add_metric(labels, worker.last_beat_at.timestamp())
        done.add_metric(labels, worker.tasks_done)
    yield from (beat, done)


def render() -> bytes:
    """The metrics in Prometheus's text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LedgerCollector())
    return generate_latest(registry)
