"""
Dispatch that scales with workers: each minute the scheduled delivery run asks the free workers of
every qcluster (on every machine sharing the Redis broker) to take a share of the backlog too.

The ledger is the queue: every share claims its own rows with SKIP LOCKED, so shares never send a
row twice and need no coordination. The run sizes the fan-out to the backlog (one share per
DISPATCH_BATCH_SIZE rows due) and to the live clusters django-q2 reports (its clusters' stats in the
broker), each with its workers less AUTOMATION_SPARE_WORKERS kept free for the planning jobs; it
takes one share itself. Each share goes on the queue of the cluster it is meant for (brokers.py:
every cluster reads a queue of its own before the shared one), so where a share runs does not depend
on which cluster's pusher is quicker: a busy cluster never takes another's share. A share that
waited past its minute does nothing (the next minute's run fans out afresh).
"""

import datetime as dt
import logging
import math
from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from notifications.api import conf as notifications_conf
from notifications.api import count_due_deliveries

from .brokers import OWN_QUEUE_BROKERS, own_queue
from .conf import conf

logger = logging.getLogger(__name__)
SHARE_TASK = "automation.tasks.run_dispatch_share"
SHARE_FRESH_FOR = dt.timedelta(seconds=60)  # a share that starts later than this after its run is dropped


@dataclass(frozen=True)
class Cluster:
    queue: str  # the name of its own queue (brokers.own_queue)
    workers: int


def live_clusters() -> list[Cluster]:
    """Every live qcluster sharing this broker (django-q2's cluster stats), with its worker count."""
    try:
        from django_q.status import Stat

        stats = [stat for stat in Stat.get_all() if stat.workers]
    except Exception:
        return []
    return [Cluster(own_queue(host=stat.host, sentinel_pid=stat.sentinel), len(stat.workers)) for stat in stats]


def share_queues(*, due: int, clusters: list[Cluster], own: str | None) -> list[str]:
    """The queues to put this minute's shares on: one share per batch of the backlog beyond the
    run's own, at most one per worker of each cluster not kept spare (the run's own cluster less the
    worker running it), the clusters taking them in turn, the others first."""
    wanted = math.ceil(due / max(1, notifications_conf.dispatch_batch_size)) - 1
    free = {
        cluster.queue: max(0, cluster.workers - conf.spare_workers - (cluster.queue == own)) for cluster in clusters
    }
    order = sorted(free, key=lambda queue: (queue == own, queue))
    queues: list[str] = []
    while len(queues) < wanted and any(free.values()):
        for queue in order:
            if free[queue] and len(queues) < wanted:
                queues.append(queue)
                free[queue] -= 1
    return queues


def shares_wanted(*, due: int, workers: int, clusters: int) -> int:
    """How many shares besides the scheduled run's own when the clusters cannot be told apart (no
    cluster stats, or a broker without queues of their own): at most one per worker not kept spare."""
    free = max(1, workers - conf.spare_workers * clusters)
    batches = math.ceil(due / max(1, notifications_conf.dispatch_batch_size))
    return max(0, min(free, batches) - 1)


def _addressable() -> bool:
    """Whether the broker gives each cluster a queue of its own (automation.brokers)."""
    from django_q.conf import Conf

    return Conf.BROKER_CLASS in OWN_QUEUE_BROKERS


def fan_out(*, now: dt.datetime | None = None) -> int:
    """Queue the delivery shares for this minute, each on the queue of a cluster with a free worker
    (the shared queue when clusters cannot be told apart); return how many were queued."""
    from django_q.tasks import async_task

    now = now or timezone.now()
    due = count_due_deliveries(now=now)
    clusters = live_clusters() if _addressable() else []
    if clusters:
        queues: list[str | None] = share_queues(due=due, clusters=clusters, own=own_queue())
        workers = sum(cluster.workers for cluster in clusters)
    else:
        workers = int(getattr(settings, "Q_CLUSTER", {}).get("workers", 1) or 1)
        queues = [None] * shares_wanted(due=due, workers=workers, clusters=1)
    for queue in queues:
        options = {"save": False} | ({"cluster": queue} if queue else {})
        async_task(SHARE_TASK, now.isoformat(), group="deliver_messages", q_options=options)
    if queues:
        logger.info(
            "Delivery: %d due, %d workers in %d clusters: %d shares queued (%s)",
            due,
            workers,
            max(1, len(clusters)),
            len(queues),
            ", ".join(f"{queue or 'shared'}: {n}" for queue, n in Counter(queues).items()),
        )
    return len(queues)


def share_is_fresh(queued_at: str, *, now: dt.datetime | None = None) -> bool:
    """Whether a share queued at `queued_at` (ISO 8601) may still run."""
    now = now or timezone.now()
    return now - dt.datetime.fromisoformat(queued_at) <= SHARE_FRESH_FOR
