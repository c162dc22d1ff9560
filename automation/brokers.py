"""
django-q2 brokers with a queue of each cluster's own beside the shared one, so a delivery share is
run by the cluster it was meant for, whatever the timing.

django-q2's clusters all read one shared queue (a Redis list, or the ORM table), and a cluster's
pusher takes tasks off it while its workers are busy (into the cluster's local queue, up to
`queue_limit`). A share queued on the shared queue could thus be taken by the busy cluster that
queued it and wait there behind the scheduled run, while another cluster's worker idled (seen on an
idle CI machine). Here every cluster also reads a queue of its own (`own_queue()`: the cluster name,
the host and the sentinel's pid, which django-q2's cluster stats give for every live cluster), first,
then the shared one: fan_out (fanout.py) puts each share on the queue of a cluster with a free
worker (`async_task(..., cluster=own_queue(...))`, django-q2's own way to address a queue).

Enabled in settings (Q_CLUSTER["broker_class"]); everything else is django-q2's broker.
"""

import os
import socket
from time import sleep

from django.utils import timezone
from django_q.brokers.orm import ORM
from django_q.brokers.redis_broker import Redis
from django_q.conf import Conf

OWN_QUEUE_BROKERS = ("automation.brokers.RedisBroker", "automation.brokers.OrmBroker")
OWN_QUEUE_SECONDS = 300  # an own queue left by a cluster that died is dropped after this (Redis)


def own_queue(*, host: str | None = None, sentinel_pid: int | None = None) -> str:
    """The name of a cluster's own queue: its sentinel (django-q2's Stat.host, Stat.sentinel); this
    process's own cluster (the sentinel is a worker's parent) when none is given."""
    host = host if host is not None else socket.gethostname()
    pid = sentinel_pid if sentinel_pid is not None else os.getppid()
    return f"{Conf.CLUSTER_NAME}@{host}:{pid}"


def _is_own_queue(list_key: str) -> bool:
    return "@" in list_key


class RedisBroker(Redis):
    """django-q2's Redis broker reading this cluster's own list first, then the shared one."""

    def __init__(self, list_key: str | None = None):
        super().__init__(list_key=list_key)
        # Made in the sentinel (django-q2 builds the pusher's broker there): its pid names the cluster.
        self.own_key = f"django_q:{own_queue(sentinel_pid=os.getpid())}:q"

    def enqueue(self, task):
        if not _is_own_queue(self.list_key):
            return super().enqueue(task)
        with self.connection.pipeline() as pipe:
            pipe.rpush(self.list_key, task)
            pipe.expire(self.list_key, OWN_QUEUE_SECONDS)
            return pipe.execute()[0]

    def dequeue(self):
        task = self.connection.blpop([self.own_key, self.list_key], 1)
        if task:
            return [(None, task[1])]


class OrmBroker(ORM):
    """django-q2's ORM broker reading this cluster's own queue first, then the shared one."""

    def __init__(self, list_key: str | None = None):
        super().__init__(list_key=list_key)
        self.own_key = own_queue(sentinel_pid=os.getpid())

    def dequeue(self):
        for key in (self.own_key, self.list_key):
            taken = self._take(key)
            if taken:
                return taken
        sleep(Conf.POLL)  # both empty: spare the CPU, as django-q2 does

    def _take(self, key: str) -> list:
        tasks = self.get_connection().filter(key=key, lock__lt=timezone.now())[0 : Conf.BULK]
        taken = []
        for task in tasks:
            # Another cluster may have been faster on the shared queue: only the lock's winner runs it.
            if self.get_connection().filter(id=task.id, lock=task.lock).update(lock=self.timeout(task)):
                taken.append((task.pk, task.payload))
        return taken
