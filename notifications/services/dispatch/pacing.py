"""
Pacing: how fast a worker may hand requests to a provider. A per-channel rate (RATE_LIMITS,
messages a second, shared by every worker through Redis: ratelimit.py) spaces requests out for
providers that cap it, and `Pace` measures how long a
provider takes per message so a request of many messages is cut to end before its earliest moment.
"""

import time
from datetime import datetime, timedelta

from ...channels import postmark
from ...conf import conf
from ...models import Channel, Delivery
from .ratelimit import SharedRateLimit, shared_redis


class RateLimit:
    """At most `per_second` messages a second on one channel (0: no limit), as a token bucket a
    second deep; `wait(n)` sleeps until `n` more may go."""

    def __init__(self, per_second: float, *, clock=time.monotonic, sleep=time.sleep):
        self.per_second = per_second
        self.clock, self.sleep = clock, sleep
        self.tokens = per_second
        self.at = clock()

    def wait(self, count: int, *, urgent: bool = False) -> float:
        """Block until `count` messages may be sent; return the seconds waited (one worker's own
        bucket has no one to give way to, so `urgent` changes nothing here)."""
        if not self.per_second:
            return 0.0
        waited = 0.0
        while True:
            now = self.clock()
            self.tokens = min(max(self.per_second, count), self.tokens + (now - self.at) * self.per_second)
            self.at = now
            if self.tokens >= count - 1e-6:  # what the float arithmetic of the refill may leave short
                self.tokens = max(0.0, self.tokens - count)
                return waited
            pause = (count - self.tokens) / self.per_second
            self.sleep(pause)
            waited += pause


def rate_limits() -> dict[str, "RateLimit | SharedRateLimit"]:
    """The channels' rate limits from NOTIFICATIONS_RATE_LIMITS (messages a second): shared by every
    worker on every machine through Redis when REDIS_URL is set (ratelimit.py), else per worker."""
    limits = conf.rate_limits
    shared = shared_redis() is not None
    return {
        channel: SharedRateLimit(channel, float(limits[channel]))
        if shared and limits.get(channel)
        else RateLimit(float(limits.get(channel) or 0))
        for channel in Channel.values
    }


class Pace:
    """How long a provider takes per message, per channel (measured on this batch's requests), so a
    request of many messages is cut to end before the earliest moment any of them is for."""

    FIRST_GUESS_WITHIN = 300  # s: before the first answer, a request with a moment this close carries one message
    MARGIN = 0.8

    def __init__(self):
        self.per_message: dict[str, float] = {}
        # Only a request the provider takes whole can end late as a whole: a backend that sends one
        # by one checks each message's moment before it goes instead.
        self.batches = postmark.batches_configured()

    def took(self, channel: str, *, started: float, messages: int) -> None:
        """A request of `messages` on `channel`, sent at `started` (time.monotonic()), was answered now."""
        seconds = (time.monotonic() - started) / max(1, messages)
        known = self.per_message.get(channel)
        self.per_message[channel] = seconds if known is None else 0.5 * known + 0.5 * seconds

    def too_late(self, request: list[Delivery], *, now: datetime) -> list[Delivery]:
        """The messages of a request of several that would be taken after their moment even in a
        request of their own (a lone message is sent when the gate lets it: it goes out at once)."""
        per_message = self.per_message.get(request[0].channel) if request else None
        if len(request) < 2 or not self.batches or request[0].channel != Channel.EMAIL or not per_message:
            return []
        soon = now + timedelta(seconds=per_message / self.MARGIN)
        return [d for d in request if d.expiry and now < d.expiry < soon]

    def fits(self, request: list[Delivery], *, now: datetime) -> int:
        """How many of `request`'s messages (in order) one request may carry and still end in time."""
        if len(request) < 2 or not self.batches or request[0].channel != Channel.EMAIL:
            return len(request)
        expiries = [d.expiry for d in request if d.expiry]
        if not expiries:
            return len(request)
        left = (min(expiries) - now).total_seconds()
        per_message = self.per_message.get(request[0].channel)
        if per_message is None:
            return 1 if left < self.FIRST_GUESS_WITHIN else len(request)
        if per_message <= 0:
            return len(request)
        return max(1, min(len(request), int(self.MARGIN * left / per_message)))
