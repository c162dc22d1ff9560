"""
Rate limits for the anonymous doors that send a message or store a row (reset, new link, CTA form).

A fixed-window counter per (door, key) in the shared cache: `cache.add` then `cache.incr`, both
atomic on Redis, so concurrent requests cannot slip past the limit there. Limits are settings
(`RATE_LIMIT_<DOOR>`, "count/period" with period s, m, h or d) so an operator can loosen or tighten
them; `conf` below holds their defaults and `manage.py check` reports one that cannot be read.
"""

import hashlib
import time
from dataclasses import dataclass

from django.core.cache import cache

from .conf import Conf, Setting

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
        if unit not in PERIODS or not count.isdigit() or not multiple.isdigit() or not int(multiple):
            raise ValueError(f"Rate {text!r} is not like '5/h', '1/15m' or '100/d'.")
        return cls(count=int(count), seconds=int(multiple) * PERIODS[unit])

    def __str__(self) -> str:
        """The rate as written in the environment ("5/h", "1/15m")."""
        unit = next(unit for unit in reversed(PERIODS) if self.seconds % PERIODS[unit] == 0)
        multiple = self.seconds // PERIODS[unit]
        return f"{self.count}/{multiple if multiple != 1 else ''}{unit}"


def _rate(raw) -> Rate:
    return raw if isinstance(raw, Rate) else Rate.parse(str(raw).strip())


def _door(key: str, default: str, check_id: str) -> Setting:
    return Setting(
        "RATE_LIMITS",
        key=key,
        variable=f"RATE_LIMIT_{key.upper()}",
        default=Rate.parse(default),
        parse=_rate,
        check_id=check_id,
    )


class ThrottleConf(Conf):
    """The doors' limits (settings.RATE_LIMITS, one RATE_LIMIT_<DOOR> variable each), per client
    address (ip) and per email address typed (address); the doors are lms's and leads' pages."""

    prefixes = {"RATE_LIMITS": "RATE_LIMIT_"}
    unknown_id = "common.W001"

    # Forgot-password and "send me a new link".
    password_reset_ip = _door("password_reset_ip", "10/h", "common.E001")
    password_reset_address = _door("password_reset_address", "5/h", "common.E002")
    # The public CTA form.
    cta_ip = _door("cta_ip", "10/h", "common.E003")
    cta_address = _door("cta_address", "3/d", "common.E004")
    # Profile page: one-time codes to a typed number, per account and per number (over it: refused).
    phone_code_account = _door("phone_code_account", "5/h", "common.E005")
    phone_code_number = _door("phone_code_number", "3/h", "common.E006")
    # The signed links of a session's messages (RSVP, join, recording), per client address.
    session_link_ip = _door("session_link_ip", "300/h", "common.E007")


conf = ThrottleConf()


def rate_for(door: str) -> Rate:
    """Return the configured limit of `door` (an attribute of `conf`)."""
    return getattr(conf, door)


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
