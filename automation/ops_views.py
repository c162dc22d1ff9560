"""
The operators' endpoints, for machines rather than people (JSON and Prometheus text, no page):

- `/health/`: may a load balancer send traffic here, is the deployment working? The database,
  Redis (when REDIS_URL is set), a django-q2 worker's heartbeat within AUTOMATION_WORKER_STALE_SECONDS,
  and the paused channels. 200 when every check passes, else 503, with a JSON body naming each check
  and its state: no address, no host name, no error text that could carry a secret. Anonymous (a
  probe has no credentials), and cheap: the answer is computed at most once every HEALTH_CACHE_SECONDS
  per process, so a flood of probes costs the database nothing more.
- `/metrics`: Prometheus's scrape (automation/metrics.py), only with `Authorization: Bearer
  <AUTOMATION_METRICS_TOKEN>`; with no token set it answers 403 to everyone (fails closed).
"""

import datetime as dt
import hmac
import threading
import time

from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from notifications.api import paused_channels, shared_redis

from .conf import conf
from .heartbeats import last_beat

HEALTH_CACHE_SECONDS = 5.0
_cached: dict = {"at": -1e9, "answer": None}
_lock = threading.Lock()


def _check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        return {"ok": False, "state": "unreachable"}
    return {"ok": True, "state": "reachable"}


def _check_redis() -> dict:
    client = shared_redis()
    if client is None:
        return {"ok": True, "state": "not configured"}
    try:
        client.ping()
    except Exception:
        return {"ok": False, "state": "unreachable"}
    return {"ok": True, "state": "reachable"}


def _check_worker(now: dt.datetime) -> dict:
    try:
        beat = last_beat()
    except Exception:
        return {"ok": False, "state": "unknown"}
    limit = conf.worker_stale_seconds
    if beat is None:
        return {"ok": False, "state": "no worker has ever beaten", "limit_seconds": limit}
    age = max(0, int((now - beat).total_seconds()))
    return {
        "ok": age <= limit,
        "state": "beating" if age <= limit else "silent",
        "age_seconds": age,
        "limit_seconds": limit,
    }


def _check_pauses() -> dict:
    try:
        paused = paused_channels()
    except Exception:
        return {"ok": False, "state": "unknown", "paused": []}
    return {"ok": not paused, "state": "sending" if not paused else "paused", "paused": paused}


def health_answer(*, now: dt.datetime | None = None) -> dict:
    """Every check and the verdict (uncached: the view caches it)."""
    now = now or timezone.now()
    database = _check_database()
    checks = {"database": database, "redis": _check_redis()}
    if database["ok"]:
        checks["worker"] = _check_worker(now)
        checks["channels"] = _check_pauses()
    ok = all(check["ok"] for check in checks.values())
    return {"status": "ok" if ok else "failing", "checked_at": now.isoformat(timespec="seconds"), "checks": checks}


@never_cache
@require_GET
def health(request):
    """200 with {"status": "ok", ...} when the deployment works, else 503 with what fails."""
    with _lock:
        if time.monotonic() - _cached["at"] > HEALTH_CACHE_SECONDS or _cached["answer"] is None:
            _cached["answer"] = health_answer()
            _cached["at"] = time.monotonic()
        answer = _cached["answer"]
    return JsonResponse(answer, status=200 if answer["status"] == "ok" else 503)


def forget_cached_health() -> None:
    """Drop the cached answer (tests)."""
    _cached.update(at=-1e9, answer=None)


@never_cache
@require_GET
def metrics(request):
    """Prometheus's scrape, for the holder of AUTOMATION_METRICS_TOKEN only."""
    token = conf.metrics_token
    if not token:
        return HttpResponse("Metrics are off: set AUTOMATION_METRICS_TOKEN.\n", status=403, content_type="text/plain")
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
        response = HttpResponse("A bearer token is needed.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    from prometheus_client import CONTENT_TYPE_LATEST

    from .metrics import render

    return HttpResponse(render(), content_type=CONTENT_TYPE_LATEST)
