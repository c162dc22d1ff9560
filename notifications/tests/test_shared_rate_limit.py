"""The provider limits shared by every worker, counted in the real Redis (REDIS_TEST_URL): several
workers together never let more than the limit go in any second, and urgent messages go first."""

import os
import threading
import time

import pytest
import redis

from notifications.services.dispatch.ratelimit import SharedRateLimit

URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def client():
    connection = redis.Redis.from_url(URL)
    try:
        connection.ping()
    except redis.ConnectionError:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"Redis is not running at {URL}")
    for key in connection.scan_iter("test-limit:*"):
        connection.delete(key)
    yield connection
    for key in connection.scan_iter("test-limit:*"):
        connection.delete(key)


def limiter(client, per_second: float) -> SharedRateLimit:
    # Each worker its own client (its own connection), as separate processes have.
    return SharedRateLimit("whatsapp", per_second, client=redis.Redis.from_url(URL), prefix="test-limit")


def test_four_workers_together_stay_under_the_limit_in_every_second(client):
    let_go: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + 2.5

    def worker():
        limit = limiter(client, 20)
        while time.monotonic() < stop:
            limit.wait(1)
            with lock:
                let_go.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    let_go.sort()
    peak = max(sum(1 for t in let_go if start <= t < start + 1.0) for start in let_go)
    # The moments are read here, after Redis let them go: a busy machine may delay each worker's by a
    # little (at most one message a worker late into the next second).
    assert peak <= 20 + 4, peak
    assert len(let_go) >= 2 * 20  # and it does not starve: ~20 a second went
    assert len(let_go) <= 3 * 20 + 4


def test_a_request_over_what_is_left_waits_for_the_window(client):
    limit = limiter(client, 10)
    assert limit.wait(10) == 0
    started = time.monotonic()
    waited = limit.wait(5)
    assert 0.8 <= time.monotonic() - started < 1.6 and waited > 0.5


def test_urgent_messages_go_before_the_others_once_the_limit_is_reached(client):
    order: list[str] = []
    limit = limiter(client, 5)
    limit.wait(5)  # the second is used up

    def send(kind: str, delay: float):
        time.sleep(delay)
        limiter(client, 5).wait(5, urgent=kind == "urgent")
        order.append(kind)

    others = threading.Thread(target=send, args=("other", 0.0))
    urgent = threading.Thread(target=send, args=("urgent", 0.1))  # asks later
    others.start()
    urgent.start()
    others.join()
    urgent.join()
    assert order == ["urgent", "other"]


def test_no_limit_never_waits(client):
    assert limiter(client, 0).wait(1000) == 0
