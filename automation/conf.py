"""
The settings automation reads, each with its one default (common.conf). `manage.py check` reports a
value that cannot be read (automation.E003-E010, checks.py); E001 and E002 check the schedules' jobs
and forms.
"""

from common.conf import Conf, Setting, mapping, whole


def _token(raw) -> str:
    token = str(raw).strip()
    if token and len(token) < 24:
        raise ValueError("a bearer token needs at least 24 characters (e.g. `openssl rand -hex 24`)")
    return token


class AutomationConf(Conf):
    # Override a job's default schedule: "payment_reminders=daily@10:00,session_reminders_24h=every:10".
    schedules = Setting(
        "AUTOMATION_SCHEDULES", variable="AUTOMATION_SCHEDULES", check_id="automation.E003", default={}, parse=mapping()
    )
    # Retention: job runs' logs, and django-q2's task results (successes and failures), kept this many days.
    job_log_retention_days = Setting(
        "AUTOMATION_JOB_LOG_RETENTION_DAYS",
        variable="AUTOMATION_JOB_LOG_RETENTION_DAYS",
        check_id="automation.E004",
        default=30,
        parse=whole(minimum=1),
    )
    task_retention_days = Setting(
        "AUTOMATION_TASK_RETENTION_DAYS",
        variable="AUTOMATION_TASK_RETENTION_DAYS",
        check_id="automation.E005",
        default=14,
        parse=whole(minimum=1),
    )
    # check_health fails when a qcluster in use here has completed no scheduled job for this long (since
    # its last one, or since it started): alive, doing nothing. Keep it above the most frequent
    # schedule's interval plus django-q2's 30 s scheduler cycle plus a run (NOTIFICATIONS_DISPATCH_RUN_SECONDS).
    scheduler_stall_seconds = Setting(
        "AUTOMATION_SCHEDULER_STALL_SECONDS",
        variable="AUTOMATION_SCHEDULER_STALL_SECONDS",
        check_id="automation.E006",
        default=180,
        parse=whole(minimum=1),
    )
    # How long django-q2 lets a task live (Q_TIMEOUT): config/settings.py gives Q_CLUSTER its default,
    # which django-q2 reads itself.
    task_timeout = Setting(
        "Q_CLUSTER", key="timeout", variable="Q_TIMEOUT", check_id="automation.E007", parse=whole(minimum=1)
    )
    # The health endpoint (/health/) fails when no django-q2 worker has started or finished a task for
    # this long (the delivery job runs every minute, so a live cluster beats at least that often).
    worker_stale_seconds = Setting(
        "AUTOMATION_WORKER_STALE_SECONDS",
        variable="AUTOMATION_WORKER_STALE_SECONDS",
        check_id="automation.E008",
        default=180,
        parse=whole(minimum=1),
    )
    # The bearer token Prometheus sends to /metrics (Authorization: Bearer ...). Unset: /metrics
    # answers 403 to everyone (it fails closed).
    metrics_token = Setting(
        "AUTOMATION_METRICS_TOKEN",
        variable="AUTOMATION_METRICS_TOKEN",
        check_id="automation.E009",
        default="",
        parse=_token,
    )
    # Dispatch fan-out: worker processes of each qcluster kept free of delivery shares for the
    # planning jobs (the others each take a share of the backlog every minute).
    spare_workers = Setting(
        "AUTOMATION_SPARE_WORKERS",
        variable="AUTOMATION_SPARE_WORKERS",
        check_id="automation.E010",
        default=1,
        parse=whole(),
    )


conf = AutomationConf()
