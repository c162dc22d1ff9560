"""
Rate limits for the anonymous doors that send a message or store a row (reset, new link, CTA form).

A fixed-window counter per (door, key) in the shared cache: `cache.add` then `cache.incr`, both
atomic on Redis, so concurrent requests cannot slip past the limit there. Limits are settings
(`RATE_LIMITS`, "count/period" with period s, m, h or d) so an operator can loosen or tighten them.
"""

import hashlib
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> "Rate":
        """Read "5/h", "1/15m" or "100/d"."""
        count, _, period = text.partition("/")
        multiple, unit = period[:-1] or "1", period[-1:]
        if unit not in PERIODS or not count.isdigit() or not multiple.isdigit():
            raise ValueError(f"Rate {text!r} is not like '5/h', '1/15m' or '100/d'.")
        return cls(count=int(count), seconds=int(multiple) * PERIODS[unit])


def rate_for(door: str) -> Rate:
    """Return the configured limit of `door` (a key of settings.RATE_LIMITS)."""
    return Rate.parse(settings.RATE_LIMITS[door])


def client_ip(request) -> str:
    """Return the client's address as the login throttle (django-axes) sees it, behind the configured proxies."""
    from axes.helpers import get_client_ip_address  # it imports axes' models: only once apps are ready

    return get_client_ip_address(request) or request.META.get("REMOTE_ADDR", "")


def allow(door: str, key: str, *, now: float | None = None) -> bool:
    """Count one use of `door` by `key`; return False once the door's limit for the window is used up."""
    rate = rate_for(door)
    window = int((time.time() if now is None else now) // rate.seconds)
    digest = hashlib.sha256(key.strip().lower().encode()).hexdigest()[:32]
    name = f"throttle:{door}:{digest}:{window}"
    cache.add(name, 0, timeout=rate.seconds + 5)
    try:
        used = cache.incr(name)
    except ValueError:  # evicted between add and incr: count this use as the first
        cache.set(name, 1, timeout=rate.seconds + 5)
        used = 1
    return used <= rate.count


def allow_all(door_keys: list[tuple[str, str]]) -> bool:
    """Count a use against every (door, key); return False if any of them is over its limit."""
    results = [allow(door, key) for door, key in door_keys if key]
    return all(results)
