"""
Dispatch that scales with workers: each minute the scheduled delivery run asks the free workers of
every qcluster (on every machine sharing the Redis broker) to take a share of the backlog too.

The ledger is the queue: every share claims its own rows with SKIP LOCKED, so shares never send a
row twice and need no coordination. The run sizes the fan-out to the backlog (one share per
DISPATCH_BATCH_SIZE rows due) and to the live workers django-q2 reports (its clusters' stats in the
broker), minus AUTOMATION_SPARE_WORKERS per cluster kept free for the planning jobs; it takes one
share itself. A share that waited in the queue past its minute does nothing (the next minute's run
fans out afresh), so shares never pile up behind busy workers.
"""

import datetime as dt
import logging
import math

from django.conf import settings
from django.utils import timezone

from notifications.api import conf as notifications_conf
from notifications.api import count_due_deliveries

from .conf import conf

logger = logging.getLogger(__name__)
SHARE_TASK = "automation.tasks.run_dispatch_share"
SHARE_FRESH_FOR = dt.timedelta(seconds=60)  # a share that starts later than this after its run is dropped


def live_workers() -> tuple[int, int]:
    """(worker processes, clusters) of every live qcluster sharing this broker; this cluster's
    configured workers when the broker keeps no stats."""
    try:
        from django_q.status import Stat

        stats = [stat for stat in Stat.get_all() if stat.workers]
    except Exception:
        stats = []
    if not stats:
        return int(getattr(settings, "Q_CLUSTER", {}).get("workers", 1) or 1), 1
    return sum(len(stat.workers) for stat in stats), len(stats)


def shares_wanted(*, due: int, workers: int, clusters: int) -> int:
    """How many shares besides the scheduled run's own: one per batch of the backlog, at most one
    per worker not kept spare."""
    free = max(1, workers - conf.spare_workers * clusters)
    batches = math.ceil(due / max(1, notifications_conf.dispatch_batch_size))
    return max(0, min(free, batches) - 1)


def fan_out(*, now: dt.datetime | None = None) -> int:
    """Queue the delivery shares for this minute; return how many were queued."""
    from django_q.tasks import async_task

    now = now or timezone.now()
    due = count_due_deliveries(now=now)
    workers, clusters = live_workers()
    wanted = shares_wanted(due=due, workers=workers, clusters=clusters)
    for _ in range(wanted):
        async_task(SHARE_TASK, now.isoformat(), group="deliver_messages", q_options={"save": False})
    if wanted:
        logger.info("Delivery: %d due, %d workers in %d clusters: %d shares queued", due, workers, clusters, wanted)
    return wanted


def share_is_fresh(queued_at: str, *, now: dt.datetime | None = None) -> bool:
    """Whether a share queued at `queued_at` (ISO 8601) may still run."""
    now = now or timezone.now()
    return now - dt.datetime.fromisoformat(queued_at) <= SHARE_FRESH_FOR
