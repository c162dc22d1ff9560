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


# --- Meta's unique recipients in 24 hours, taken atomically in Redis ---------------------------------


def reached(client, limit: int):
    from notifications.services.dispatch.limits import ReachedNumbers

    # Each worker its own client (its own connection), as separate processes have.
    return ReachedNumbers(limit, client=redis.Redis.from_url(URL), prefix="test-limit", sender="sender")


def test_two_workers_taking_new_numbers_at_once_never_pass_the_tier_together(client):
    from django.utils import timezone

    limit, now = 50, timezone.now()
    client.set(reached(client, limit).keys[1], "seeded")  # an empty ledger behind it
    start = threading.Barrier(2)
    admitted: dict[str, list[str]] = {}

    def worker(name: str):
        numbers = reached(client, limit)
        start.wait()
        mine = []
        for first in range(0, 60, 3):  # claims of 3 new numbers, 60 in all: each alone would take 50
            claim = [f"+91{name}{i:05d}" for i in range(first, first + 3)]
            refused = numbers.take(claim, now=now)
            mine += [number for number in claim if number not in refused]
        admitted[name] = mine

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("1", "2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(admitted["1"]) + len(admitted["2"]) == limit, admitted
    # Full: a number already reached still goes, a new one waits.
    numbers = reached(client, limit)
    assert numbers.take([admitted["1"][0] if admitted["1"] else admitted["2"][0]], now=now) == set()
    assert numbers.take(["+919999999999"], now=now) == {"+919999999999"}
    assert numbers.count(now=now) == limit


@pytest.mark.django_db
def test_the_numbers_reached_are_seeded_from_the_ledger_once(client):
    from datetime import timedelta

    from django.utils import timezone

    from notifications.models import Delivery

    now = timezone.now()
    Delivery.objects.create_single(
        kind="payment_reminder",
        channel="whatsapp",
        to_address="+919800000001",
        status="sent",
        handed_over_at=now - timedelta(hours=2),
    )
    Delivery.objects.create_single(  # outside the 24 hours: no longer counted
        kind="payment_reminder",
        channel="whatsapp",
        to_address="+919800000002",
        status="sent",
        handed_over_at=now - timedelta(hours=25),
    )
    numbers = reached(client, 2)
    assert numbers.take(["+919800000003", "+919800000001", "+919800000004"], now=now) == {"+919800000004"}
    assert numbers.count(now=now) == 2
    assert not numbers.seed(now=now)  # seeded once: a later seed changes nothing
