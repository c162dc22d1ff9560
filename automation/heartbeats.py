"""
Worker heartbeats: every django-q2 worker process, on any machine, writes its row (host, pid,
cluster) when it starts and around each task it runs, with how many tasks it has done. The jobs
page lists them, the health endpoint wants one that beat recently, and the delivery job counts the
live ones to size its fan-out. A worker waiting for work writes nothing: the delivery job's task
every minute keeps at least one beating in a live deployment.
"""

import datetime as dt
import logging
import os
import socket

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from .models import WorkerHeartbeat

logger = logging.getLogger(__name__)
SHOWN_FOR = dt.timedelta(hours=1)  # the jobs page lists the workers that beat within this long


def _cluster() -> str:
    return str(getattr(settings, "Q_CLUSTER", {}).get("name", ""))


def _me() -> dict:
    return {"host": socket.gethostname()[:255], "pid": os.getpid()}


def beat(*, task: str = "", done: bool = False, started: bool = False) -> None:
    """Record that this worker process is alive now: starting (`started`), taking `task`, or having
    finished one (`done`). Never raises: a heartbeat that cannot be written must not stop a task."""
    now = timezone.now()
    try:
        changes = {"last_beat_at": now, "current_task": task[:200], "cluster": _cluster()}
        if done:
            changes["tasks_done"] = F("tasks_done") + 1
        if started:
            changes |= {"started_at": now, "tasks_done": 0}
        if not WorkerHeartbeat.objects.filter(**_me()).update(**changes):
            WorkerHeartbeat.objects.get_or_create(
                **_me(),
                defaults={
                    "cluster": _cluster(),
                    "started_at": now,
                    "last_beat_at": now,
                    "tasks_done": int(done),
                    "current_task": task[:200],
                },
            )
    except Exception:
        logger.exception("Could not write this worker's heartbeat")


def _task_name(task: dict) -> str:
    func = task.get("func")
    name = func if isinstance(func, str) else getattr(func, "__qualname__", str(func))
    args = task.get("args") or ()
    return f"{name.rsplit('.', 1)[-1]}({args[0]})" if args and isinstance(args[0], str) else name.rsplit(".", 1)[-1]


def on_spawn(sender, proc_name="", **kwargs) -> None:
    beat(started=True)


def on_pre_execute(sender, func=None, task=None, **kwargs) -> None:
    beat(task=_task_name(task or {}))


def on_post_execute(sender, func=None, task=None, **kwargs) -> None:
    beat(done=True)


def connect() -> None:
    """Listen to django-q2's worker signals (they fire in the worker processes only)."""
    from django_q.signals import post_execute_in_worker, post_spawn, pre_execute

    post_spawn.connect(on_spawn, dispatch_uid="automation.heartbeat.spawn")
    pre_execute.connect(on_pre_execute, dispatch_uid="automation.heartbeat.pre")
    post_execute_in_worker.connect(on_post_execute, dispatch_uid="automation.heartbeat.post")


def recent_workers(*, now: dt.datetime, within: dt.timedelta = SHOWN_FOR) -> list[WorkerHeartbeat]:
    """The workers that beat within `within`, the latest first."""
    return list(WorkerHeartbeat.objects.filter(last_beat_at__gte=now - within).order_by("-last_beat_at", "host", "pid"))


def last_beat() -> dt.datetime | None:
    """When any worker last beat, or a job run from cron (`run_reminders`) last ended (None: never):
    a deployment that runs its jobs from cron has no qcluster to beat."""
    from django.db.models import Max

    from .models import JobExecutionLog

    worker = WorkerHeartbeat.objects.aggregate(at=Max("last_beat_at"))["at"]
    cron = JobExecutionLog.objects.filter(trigger="command", completed_at__isnull=False).aggregate(
        at=Max("completed_at")
    )["at"]
    return max((moment for moment in (worker, cron) if moment), default=None)
