"""
Provider limits shared by every worker on every machine, counted in Redis (REDIS_URL).

`SharedRateLimit` is a sliding-window log per channel and sender (a sorted set of the moments
messages were let go, in Redis's own clock): a request of `n` messages goes when the window holds
at most `limit - n`, so all the workers of all the clusters together never let more than `limit`
go in any second (the window is 1.15 s: see WINDOW_MS). Urgent requests (priority 0 and 1:
"starting soon", "tomorrow", a phone code) first: one that must wait raises a flag until just after
its turn, and while it stands the others wait too.

Without Redis each worker keeps its own bucket (pacing.RateLimit): the limit is then per worker.
"""

import functools
import time
import uuid

from django.conf import settings

from ...models import Channel

# The window is a little longer than the provider's second: a request reaches the provider some
# milliseconds after Redis lets it go (the gate, the hand-over, the network, a busy machine), and
# those delays differ, so requests let go over 1 s can arrive within less. 150 ms of slack keeps
# the provider's own count under the limit (bench/scaleout.py: 103 a second against 100 without it).
WINDOW_MS = 1150
URGENT_MAX_PRIORITY = 1  # priorities at or below this go first when the limit is reached
URGENT_FLAG_MS = 100  # how long past its own wait a waiting urgent request holds the others back

# KEYS: the log, the urgent flag. ARGV: limit, window (ms), messages, urgent (0/1), a unique id.
# Returns 0 when the messages may go now (they are logged), else the milliseconds to wait.
_TAKE = """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local urgent = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
local blocked = urgent == 0 and redis.call('EXISTS', KEYS[2]) == 1
if used + n <= limit and not blocked then
  for i = 1, n do
    redis.call('ZADD', KEYS[1], now, ARGV[5] .. ':' .. i)
  end
  redis.call('PEXPIRE', KEYS[1], window * 2)
  return 0
end
local pause = 10
local over = used + n - limit
if over > 0 then
  local oldest = redis.call('ZRANGE', KEYS[1], over - 1, over - 1, 'WITHSCORES')
  pause = math.max(1, tonumber(oldest[2]) + window - now + 1)
end
if urgent == 1 then
  -- the others wait until this request has had its turn
  redis.call('SET', KEYS[2], '1', 'PX', pause + tonumber(ARGV[6]))
end
return pause
"""


@functools.cache
def _client(url: str):
    import redis

    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


def shared_redis():
    """The Redis every worker shares (REDIS_URL), or None when there is none."""
    url = getattr(settings, "REDIS_URL", "")
    return _client(url) if url else None


def sender_of(channel: str) -> str:
    """The provider account a channel's limit belongs to: WhatsApp's sender number (Twilio) or phone
    number id (Meta); email's is the channel itself."""
    if channel != Channel.WHATSAPP:
        return "all"
    return (
        getattr(settings, "TWILIO_WHATSAPP_FROM", "") or getattr(settings, "META_WHATSAPP_PHONE_NUMBER_ID", "") or "all"
    )


class SharedRateLimit:
    """At most `per_second` messages in any second on `channel`'s sender, for every worker that
    shares this Redis. `wait(n, urgent=...)` blocks until the `n` messages may go."""

    def __init__(self, channel: str, per_second: float, *, client=None, sleep=time.sleep, prefix: str = ""):
        self.per_second = per_second
        self.limit = max(1, int(per_second))
        self.client = client if client is not None else shared_redis()
        self.sleep = sleep
        base = f"{prefix or _prefix()}:rate:{channel}:{sender_of(channel)}"
        self.keys = [f"{base}:log", f"{base}:urgent"]
        self.script = self.client.register_script(_TAKE)

    def wait(self, count: int, *, urgent: bool = False) -> float:
        """Block until `count` messages may be sent (a request over the limit counts as the limit);
        return the seconds waited."""
        if not self.per_second:
            return 0.0
        count = max(1, min(count, self.limit))
        waited = 0.0
        while True:
            pause_ms = int(
                self.script(
                    keys=self.keys, args=[self.limit, WINDOW_MS, count, int(urgent), uuid.uuid4().hex, URGENT_FLAG_MS]
                )
            )
            if not pause_ms:
                return waited
            self.sleep(pause_ms / 1000)
            waited += pause_ms / 1000


def _prefix() -> str:
    return str(getattr(settings, "CACHES", {}).get("default", {}).get("KEY_PREFIX", "coursehub"))


# --- Counters for the metrics endpoint: sends and their outcomes, by channel, every worker's ------


def tally_key() -> str:
    return f"{_prefix()}:dispatch:outcomes"


def add_outcomes(counts: dict[tuple[str, str], int]) -> None:
    """Add a batch's outcomes ((channel, status) -> n) to the shared counters (nothing without Redis)."""
    client = shared_redis()
    if client is None or not counts:
        return
    try:
        with client.pipeline(transaction=False) as pipe:
            for (channel, status), n in counts.items():
                pipe.hincrby(tally_key(), f"{channel}:{status}", n)
            pipe.execute()
    except Exception:  # the metrics must never stop a send
        import logging

        logging.getLogger(__name__).exception("Could not count dispatch outcomes in Redis")


def outcome_totals() -> dict[tuple[str, str], int]:
    """Every worker's outcomes since the counters began ((channel, status) -> n); {} without Redis."""
    client = shared_redis()
    if client is None:
        return {}
    totals = {}
    for field, value in client.hgetall(tally_key()).items():
        channel, _, status = field.decode().partition(":")
        totals[(channel, status)] = int(value)
    return totals
