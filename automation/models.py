"""The job execution log."""

from django.db import models
from django.utils import timezone


class JobExecutionLog(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCESS = "success", "Succeeded"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped (already running)"
        # The run stopped answering (its process was killed, or outlived its timeout): it will
        # never record an outcome of its own.
        ABANDONED = "abandoned", "Abandoned (stopped answering)"

    job_name = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Written every few seconds while the run is alive; a running row whose heartbeat stopped is abandoned.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    records_processed = models.PositiveIntegerField(default=0)
    error_message = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    trigger = models.CharField(max_length=200, blank=True, help_text="schedule, command, or admin:<who>")
    dry_run = models.BooleanField(default=False)

    class Meta:
        verbose_name = "job run"
        permissions = [("run_job", "Can run jobs now from the admin")]
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["job_name", "-started_at"], name="joblog_name_started"),
            models.Index(fields=["status"], name="joblog_status"),
        ]

    def __str__(self):
        return f"{self.job_name} {self.status} at {self.started_at:%Y-%m-%d %H:%M:%S}"


class WorkerHeartbeat(models.Model):
    """One django-q2 worker process (on any machine): written when it starts and around each task
    it runs (automation/heartbeats.py), so the jobs page and the health endpoint see every worker."""

    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    cluster = models.CharField(max_length=100, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    last_beat_at = models.DateTimeField(default=timezone.now)
    tasks_done = models.PositiveIntegerField(default=0)
    current_task = models.CharField(max_length=200, blank=True, help_text="what it runs now (blank: idle)")

    class Meta:
        verbose_name = "worker"
        constraints = [models.UniqueConstraint(fields=["host", "pid"], name="worker_heartbeat_host_pid")]
        indexes = [models.Index(fields=["-last_beat_at"], name="worker_heartbeat_recent")]

    def __str__(self):
        return f"{self.host}:{self.pid}"
