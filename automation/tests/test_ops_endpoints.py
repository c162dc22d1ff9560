"""The operators' endpoints over HTTP: /health/ for load balancers, /metrics for Prometheus, and the
workers on the jobs page (their heartbeats)."""

import datetime as dt
import os

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from automation import heartbeats
from automation.conf import conf
from automation.models import WorkerHeartbeat
from automation.ops_views import forget_cached_health
from automation.tests.test_jobs_page import staff_with
from notifications.models import ChannelPause
from notifications.tests.factories import DeliveryFactory

pytestmark = pytest.mark.django_db
TOKEN = "t" * 32
REDIS = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(autouse=True)
def fresh_health():
    forget_cached_health()
    yield
    forget_cached_health()


def test_health_is_200_with_a_recent_worker_and_503_without(client):
    response = client.get("/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failing"
    assert body["checks"]["database"]["ok"] and not body["checks"]["worker"]["ok"]

    heartbeats.beat(started=True)
    forget_cached_health()
    response = client.get("/health/")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["worker"]["state"] == "beating"
    assert response["Cache-Control"].startswith("max-age=0")


def test_a_silent_worker_or_a_paused_channel_fails_the_probe(client):
    heartbeats.beat()
    WorkerHeartbeat.objects.update(last_beat_at=timezone.now() - dt.timedelta(seconds=conf.worker_stale_seconds + 5))
    body = client.get("/health/").json()
    assert body["checks"]["worker"]["state"] == "silent"

    heartbeats.beat()
    ChannelPause.objects.create(
        channel="whatsapp", reason="Authenticate: secret-token-xyz", until=timezone.now() + dt.timedelta(minutes=1)
    )
    forget_cached_health()
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json()["checks"]["channels"] == {"ok": False, "state": "paused", "paused": ["whatsapp"]}
    assert b"secret-token-xyz" not in response.content  # a provider's words never leave


def test_health_answers_are_cached_for_a_few_seconds(client, django_assert_max_num_queries):
    heartbeats.beat()
    client.get("/health/")
    with django_assert_max_num_queries(0):
        assert client.get("/health/").status_code == 200


def test_a_deployment_on_cron_is_healthy_while_its_runs_end(client):
    call_command("run_reminders", "deliver")  # cron's `run_reminders`: no qcluster, no heartbeat row
    response = client.get("/health/")
    assert response.status_code == 200, response.json()
    assert not WorkerHeartbeat.objects.exists()


@override_settings(REDIS_URL=REDIS)
def test_health_checks_redis_when_there_is_one(client):
    heartbeats.beat()
    assert client.get("/health/").json()["checks"]["redis"] == {"ok": True, "state": "reachable"}
    forget_cached_health()
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        response = client.get("/health/")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"] == {"ok": False, "state": "unreachable"}


@override_settings(SECURE_SSL_REDIRECT=True)
def test_the_probe_is_not_redirected_to_https(client):
    heartbeats.beat()
    assert client.get("/health/").status_code == 200
    assert client.get("/metrics").status_code == 301  # the token travels over HTTPS only


def test_metrics_fail_closed_without_a_token(client):
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 403


@override_settings(AUTOMATION_METRICS_TOKEN=TOKEN)
def test_metrics_need_the_bearer_token(client):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401


@override_settings(AUTOMATION_METRICS_TOKEN=TOKEN, REDIS_URL=REDIS)
def test_metrics_show_backlog_pauses_jobs_workers_and_outcomes(client):
    from notifications.services.dispatch.ratelimit import add_outcomes, shared_redis, tally_key

    shared_redis().delete(tally_key())
    DeliveryFactory.create_batch(3)
    DeliveryFactory(whatsapp=True)
    DeliveryFactory(kind="session_15min", priority=0)
    ChannelPause.objects.create(channel="whatsapp", reason="no credit", until=timezone.now() + dt.timedelta(minutes=1))
    call_command("run_reminders", "payments")
    heartbeats.beat(done=True)
    add_outcomes({("email", "sent"): 7, ("whatsapp", "failed"): 2})

    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert 'coursehub_backlog{channel="email",priority="2"} 3.0' in text
    assert 'coursehub_backlog{channel="whatsapp",priority="2"} 1.0' in text
    assert 'coursehub_backlog{channel="email",priority="0"} 1.0' in text
    assert 'coursehub_channel_paused{channel="whatsapp"} 1.0' in text
    assert 'coursehub_channel_paused{channel="email"} 0.0' in text
    assert 'coursehub_dispatch_outcomes_total{channel="email",status="sent"} 7.0' in text
    assert 'coursehub_dispatch_outcomes_total{channel="whatsapp",status="failed"} 2.0' in text
    assert 'coursehub_job_runs{job="payment_reminders",status="success"} 1.0' in text
    assert 'coursehub_job_last_duration_seconds{job="payment_reminders"}' in text
    assert "coursehub_worker_tasks_done{" in text and "} 1.0" in text
    shared_redis().delete(tally_key())


def test_a_short_metrics_token_is_reported_by_the_check():
    with override_settings(AUTOMATION_METRICS_TOKEN="short"):
        errors = [error for error in conf.check() if error.id == "automation.E009"]
    assert errors and "24 characters" in errors[0].msg


def test_each_worker_counts_its_tasks_and_the_jobs_page_lists_it(client):
    heartbeats.on_spawn("django_q", proc_name="Process-1")
    heartbeats.on_pre_execute(
        "django_q", task={"func": "automation.tasks.run_scheduled_job", "args": ("deliver_messages",)}
    )
    worker = WorkerHeartbeat.objects.get()
    assert worker.current_task == "run_scheduled_job(deliver_messages)" and worker.tasks_done == 0
    heartbeats.on_post_execute("django_q", task={})
    heartbeats.on_post_execute("django_q", task={})
    worker.refresh_from_db()
    assert worker.tasks_done == 2 and worker.current_task == ""
    WorkerHeartbeat.objects.create(
        host="machine-b",
        pid=42,
        cluster="coursehub",
        tasks_done=9,
        last_beat_at=timezone.now() - dt.timedelta(minutes=10),
    )

    client.force_login(staff_with("view_jobexecutionlog"))
    page = client.get("/admin/automation/jobs/").content.decode()
    assert f'data-testid="worker-{worker.host}-{worker.pid}"' in page
    assert 'data-testid="worker-machine-b-42"' in page and "silent" in page
