"""Dispatch that scales with workers: the scheduled delivery run fans out shares of the backlog to
the free workers of every qcluster; two clusters (separate processes) send one backlog together,
each row once."""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from django.test import override_settings
from django.utils import timezone

from automation import fanout
from automation.tests.test_qcluster import ROOT, _database_url

SPARE = "AUTOMATION_SPARE_WORKERS"


@pytest.mark.parametrize(
    ("due", "workers", "clusters", "spare", "shares"),
    [
        (20_000, 2, 1, 1, 0),  # one cluster: its spare worker stays free, the run sends alone
        (20_000, 4, 2, 1, 1),
        (20_000, 8, 4, 1, 3),
        (20_000, 8, 4, 0, 7),
        (600, 8, 4, 0, 1),  # two batches due: the run and one share
        (10, 8, 4, 0, 0),
        (0, 8, 4, 0, 0),
    ],
)
def test_shares_follow_the_backlog_and_the_free_workers(due, workers, clusters, spare, shares):
    with override_settings(**{SPARE: str(spare), "NOTIFICATIONS": {"DISPATCH_BATCH_SIZE": "500"}}):
        assert fanout.shares_wanted(due=due, workers=workers, clusters=clusters) == shares
        per_cluster = [fanout.Cluster(f"q{i}", workers // clusters) for i in range(clusters)]
        assert len(fanout.share_queues(due=due, clusters=per_cluster, own="q0")) == shares


def test_each_share_goes_to_a_cluster_with_a_free_worker_the_others_first():
    a, b, c = fanout.Cluster("a", 2), fanout.Cluster("b", 2), fanout.Cluster("c", 3)
    with override_settings(**{SPARE: "1", "NOTIFICATIONS": {"DISPATCH_BATCH_SIZE": "500"}}):
        # a runs the scheduled run: its one worker not kept spare is busy with it
        assert fanout.share_queues(due=20_000, clusters=[a, b, c], own="a") == ["b", "c", "c"]
        assert fanout.share_queues(due=1_000, clusters=[a, b, c], own="a") == ["b"]
        assert fanout.share_queues(due=20_000, clusters=[a], own="a") == []
    with override_settings(**{SPARE: "0", "NOTIFICATIONS": {"DISPATCH_BATCH_SIZE": "500"}}):
        assert fanout.share_queues(due=20_000, clusters=[a, b], own="a") == ["b", "a", "b"]
        # a run outside any cluster (a command): every cluster's workers are free
        assert fanout.share_queues(due=20_000, clusters=[a, b], own=None) == ["a", "b", "a", "b"]


def test_a_share_that_waited_past_its_minute_does_nothing():
    now = timezone.now()
    assert fanout.share_is_fresh(now.isoformat(), now=now + dt.timedelta(seconds=30))
    assert not fanout.share_is_fresh(now.isoformat(), now=now + dt.timedelta(seconds=61))


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_clusters_share_one_backlog_and_send_each_message_once(tmp_path):
    from django_q.tasks import async_task

    from automation.models import JobExecutionLog, WorkerHeartbeat
    from notifications.models import Delivery
    from notifications.services.planning import PlannedMessage, Recipient, plan_messages
    from tests.fakes import FakeProvider, twilio_ok

    plan_messages(
        kind="payment_reminder",
        messages=(
            PlannedMessage(
                recipient=Recipient(user_id=None, phone=f"+9198767{i:05d}", whatsapp_opt_in=True, name=f"P {i}"),
                event_key=f"fan-{i}",
                context={"amount": "₹5,000", "payment_url": "https://pay.example.com/x"},
                subject_type="tests.event",
                subject_id=i,
            )
            for i in range(80)
        ),
    )
    with FakeProvider(default=twilio_ok, latency=0.1) as twilio:
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "DJANGO_ENV": "test",
            "MOCK_MODE": "false",
            "REDIS_URL": "",  # the ORM broker (automation.brokers.OrmBroker)
            # The clusters' stats (the ORM broker keeps them in the cache): one cache for both.
            "CACHE_URL": f"filecache://{tmp_path / 'cache'}",
            "Q_WORKERS": "1",
            "Q_POLL": "0.2",
            SPARE: "0",
            "NOTIFICATIONS_DISPATCH_BATCH_SIZE": "10",
            "NOTIFICATIONS_DISPATCH_RUN_SECONDS": "30",
            "WHATSAPP_BACKEND": "notifications.channels.whatsapp.twilio.WhatsAppBackend",
            "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
            "TWILIO_AUTH_TOKEN": "secret",
            "TWILIO_WHATSAPP_FROM": "+14155238886",
            "TWILIO_API_BASE_URL": twilio.url,
            "TWILIO_CONTENT_SIDS": "payment_reminder=HX" + "b" * 32,
            "TWILIO_TIMEOUT": "5",
        }
        clusters = []
        log_path = tmp_path / "qclusters.log"
        with open(log_path, "w") as log_file:
            try:
                for _ in range(2):  # two machines: each cluster in a process group of its own
                    clusters.append(
                        subprocess.Popen(
                            [sys.executable, "manage.py", "qcluster"],
                            cwd=ROOT,
                            env=env,
                            stdout=log_file,
                            stderr=subprocess.STDOUT,
                            start_new_session=True,
                        )
                    )
                deadline = time.monotonic() + 60
                while log_path.read_text().count("ready for work") < 2 and time.monotonic() < deadline:
                    time.sleep(0.2)
                time.sleep(1.5)  # each cluster's stats reach the cache within a guard cycle
                async_task("automation.tasks.run_scheduled_job", "deliver_messages")
                deadline = time.monotonic() + 90
                while Delivery.objects.filter(status="pending").exists() and time.monotonic() < deadline:
                    assert all(c.poll() is None for c in clusters), log_path.read_text()
                    time.sleep(0.3)
                while JobExecutionLog.objects.filter(status="running").exists() and time.monotonic() < deadline:
                    time.sleep(0.3)
                time.sleep(1)  # the last task's heartbeat (tasks done) is written after its run's log
                # Tasks done by each cluster's worker (a worker's process group is its cluster's).
                groups = {cluster.pid: n for n, cluster in enumerate(clusters)}
                tasks_by_cluster = Counter()
                for pid, done in WorkerHeartbeat.objects.values_list("pid", "tasks_done"):
                    try:
                        tasks_by_cluster[groups.get(os.getpgid(pid))] += done
                    except ProcessLookupError:
                        pass
            finally:
                for cluster in clusters:
                    if cluster.poll() is None:
                        os.killpg(cluster.pid, signal.SIGTERM)
                for cluster in clusters:
                    try:
                        cluster.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        os.killpg(cluster.pid, signal.SIGKILL)
                        cluster.wait()

    assert Delivery.objects.filter(status="sent").count() == 80, log_path.read_text()
    sent_to = Counter(request.form()["To"] for request in twilio.requests)
    assert len(sent_to) == 80 and max(sent_to.values()) == 1  # every message once
    runs = JobExecutionLog.objects.filter(job_name="deliver_messages")
    assert sorted(runs.values_list("trigger", flat=True)) == ["fan-out", "schedule"], log_path.read_text()
    assert sum(run.records_processed for run in runs) == 80, list(runs.values("trigger", "records_processed"))
    # The share went to the queue of the cluster that did not run the scheduled run, so each cluster's
    # one worker ran one of the two runs, however quick either cluster's pusher was. (How the 80 split
    # between the runs depends on the machine's speed, so it is not asserted: bench/scaleout.py measures it.)
    assert tasks_by_cluster[0] >= 1 and tasks_by_cluster[1] >= 1, (tasks_by_cluster, log_path.read_text())


def _brokers(kind: str):
    from automation import brokers

    broker = brokers.RedisBroker if kind == "redis" else brokers.OrmBroker
    mine = broker(list_key="test-fanout")  # this cluster's (its sentinel is this process)
    other = broker(list_key="test-fanout")
    other.own_key = other.own_key.replace(f":{os.getpid()}", ":1")  # a cluster elsewhere
    meant_for_me = broker(list_key=fanout.own_queue(sentinel_pid=os.getpid()))
    return mine, other, meant_for_me


@pytest.mark.parametrize("kind", ["redis", pytest.param("orm", marks=pytest.mark.django_db)])
def test_a_share_meant_for_a_cluster_is_taken_by_it_first_and_by_no_other(kind, monkeypatch):
    import redis
    from django_q.conf import Conf

    if kind == "redis":
        url = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15")
        try:
            redis.Redis.from_url(url).ping()
        except redis.ConnectionError:
            if os.environ.get("CI"):
                raise
            pytest.skip(f"Redis is not running at {url}")
        monkeypatch.setattr(Conf, "REDIS", url)
    monkeypatch.setattr(Conf, "POLL", 0.05)
    mine, other, meant_for_me = _brokers(kind)
    for broker in (mine, meant_for_me):
        broker.purge_queue() if kind == "orm" else broker.delete_queue()
    try:
        mine.enqueue("on the shared queue")
        meant_for_me.enqueue("a share for this cluster")
        assert [payload for _, payload in other.dequeue()] == _as(kind, "on the shared queue")
        assert not other.dequeue()  # the share waits for its cluster, however quick the other is
        assert [payload for _, payload in mine.dequeue()] == _as(kind, "a share for this cluster")
        assert not mine.dequeue()
    finally:
        for broker in (mine, meant_for_me):
            broker.purge_queue() if kind == "orm" else broker.delete_queue()


def _as(kind: str, payload: str) -> list:
    return [payload.encode()] if kind == "redis" else [payload]
