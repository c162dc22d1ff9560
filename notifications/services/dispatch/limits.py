"""
Meta's messaging limit: a WhatsApp sender starts business-initiated conversations with at most
WHATSAPP_DAILY_UNIQUE_RECIPIENTS different people in a moving 24 hours (250 for a new sender,
then 1K, 10K, 100K as its tier grows). Past it Meta refuses the messages, so dispatch holds back
messages to numbers not yet reached in the window (they wait, in claim order: urgent kinds
first), while numbers already reached, and replies to a person's own message, go on.

With Redis (REDIS_URL) the numbers reached are counted there, per sender, and a claim takes its new
numbers in one Lua script (`ReachedNumbers`): two workers claiming at once cannot both take the last
places, as they could from a count read in the ledger. The set is seeded from the ledger (the rows
handed over within 24 hours) when Redis has none, once. A number a claim took but whose message went
back to the queue unsent (its run ended) still counts until its 24 hours pass: the limit errs low.

Without Redis the numbers reached are counted in the ledger. An exact count reads every row handed over
in 24 hours (hundreds of thousands at a large school), so a claim does not make one each time: it takes
the last exact count (kept in the cache for RECOUNT_EVERY) plus every WhatsApp row handed over since,
as though each went to a new number. That is never fewer than the numbers reached now (the window at
any later moment holds only numbers of the counted window or rows handed over since), so the limit
errs low; near the limit (a tenth of it left) each claim counts exactly, as a claim must not hold back
messages the limit has room for.
"""

import uuid
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet

from ...conf import conf
from ...kinds import all_kinds
from ...models import Channel, Delivery
from .ratelimit import _prefix, sender_of, shared_redis

WINDOW = timedelta(hours=24)
RECOUNT_EVERY = timedelta(minutes=10)  # without Redis: how long an exact count of the numbers reached is kept
# A row's hand-over time is taken just before its update commits: a row committed after a count may
# carry a time a little before it. Rows handed over this long before a count are added to it again.
HAND_OVER_SKEW = timedelta(minutes=1)


def whatsapp_limit() -> int | None:
    """The sender's limit of unique recipients in 24 hours, or None for no limit."""
    return conf.whatsapp_daily_unique_recipients or None


def _reply_kinds() -> list[str]:
    return [kind.name for kind in all_kinds() if kind.reply]


def _reached(now: datetime) -> QuerySet:
    """Business-initiated WhatsApp rows handed to the provider within the window."""
    return Delivery.objects.filter(channel=Channel.WHATSAPP, handed_over_at__gte=now - WINDOW).exclude(
        event__kind__in=_reply_kinds()
    )


def new_recipients_left(*, now: datetime) -> int | None:
    """How many more numbers may be reached in the window now (None: no limit)."""
    limit = whatsapp_limit()
    if limit is None:
        return None
    shared = ReachedNumbers.shared(limit)
    if shared is not None:
        return max(0, limit - shared.count(now=now))
    return max(0, limit - _reached_in_ledger(limit, now=now))


def _reached_in_ledger(limit: int, *, now: datetime) -> int:
    """The numbers reached in the window, or more (never fewer): the last exact count, taken within
    RECOUNT_EVERY, plus the WhatsApp rows handed over since; an exact count when that is not far from
    the limit (or none is kept)."""
    key = f"notifications:whatsapp:reached:{connection.alias}:{connection.settings_dict['NAME']}"
    kept = cache.get(key)
    if kept is not None:
        counted, at = kept
        if at <= now < at + RECOUNT_EVERY:
            since = Delivery.objects.filter(channel=Channel.WHATSAPP, handed_over_at__gte=at - HAND_OVER_SKEW)
            at_most = counted + since.count()
            if limit - at_most > limit // 10:
                return at_most
    counted = _reached(now).values("to_address").distinct().count()
    cache.set(key, (counted, now), timeout=RECOUNT_EVERY.total_seconds())
    return counted


def _to_a_new_number(now: datetime) -> Q:
    """A business-initiated WhatsApp message to a number not reached within the window."""
    return (
        Q(channel=Channel.WHATSAPP)
        & ~Q(event__kind__in=_reply_kinds())
        & ~Exists(_reached(now).filter(to_address=OuterRef("to_address")))
    )


def within_limit(due: QuerySet, *, left: int | None, now: datetime) -> QuerySet:
    """`due` without the messages to numbers not yet reached, once the limit is used up (`left` is 0)."""
    return due.exclude(_to_a_new_number(now)) if left == 0 else due


def over_limit(claimed: list[Delivery], *, left: int | None, now: datetime) -> list[Delivery]:
    """The claimed rows to numbers not yet reached beyond what the limit has `left` (later in claim order)."""
    replies = set(_reply_kinds())
    candidates = [d for d in claimed if d.channel == Channel.WHATSAPP and d.kind not in replies]
    if left is None or not candidates:
        return []
    shared = ReachedNumbers.shared(whatsapp_limit())
    if shared is not None:  # every worker's numbers, taken atomically
        refused = shared.take([d.to_address for d in candidates], now=now)
        return [d for d in candidates if d.to_address in refused]
    numbers = {d.to_address for d in candidates}
    if len(numbers) <= left:  # room for all, were every one new: no need to look which are
        return []
    reached = set(_reached(now).filter(to_address__in=numbers).values_list("to_address", flat=True))
    held, new = [], set()
    for delivery in candidates:
        if delivery.to_address in reached or delivery.to_address in new:
            continue
        if len(new) < left:
            new.add(delivery.to_address)
        else:
            held.append(delivery)
    return held


def held_back(*, now: datetime) -> int:
    """How many due WhatsApp messages wait for the limit (for the health check)."""
    if new_recipients_left(now=now) != 0:
        return 0
    return (
        Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
        .filter(_to_a_new_number(now))
        .count()
    )


# KEYS: the numbers reached (a sorted set: number -> when last taken, ms), the seeded flag.
# ARGV: the limit, the window (ms), then the numbers in claim order. Returns the numbers refused, or
# -1 when the set has not been seeded from the ledger yet.
_TAKE_NUMBERS = """
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local refused = {}
for i = 3, #ARGV do
  local number = ARGV[i]
  if redis.call('ZSCORE', KEYS[1], number) then
    redis.call('ZADD', KEYS[1], now, number)
  elseif count < limit then
    redis.call('ZADD', KEYS[1], now, number)
    count = count + 1
  else
    refused[#refused + 1] = number
  end
end
redis.call('PEXPIRE', KEYS[1], window)
return refused
"""

# KEYS: the set, the seeded flag. ARGV: the window (ms), a token, then (ms, number) pairs from the
# ledger. Seeds once: returns 1 if it seeded, 0 if another worker had.
_SEED = """
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[1]) == false then return 0 end
for i = 3, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], 'NX', ARGV[i], ARGV[i + 1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""


class ReachedNumbers:
    """The WhatsApp numbers a sender reached in the last 24 hours, in Redis, shared by every worker:
    `take(numbers)` admits new ones up to the limit atomically and returns those refused."""

    def __init__(self, limit: int, *, client, prefix: str = "", sender: str | None = None):
        self.limit = limit
        self.client = client
        base = f"{prefix or _prefix()}:whatsapp:reached:{sender or sender_of(Channel.WHATSAPP)}"
        self.keys = [base, f"{base}:seeded"]
        self.window_ms = int(WINDOW.total_seconds() * 1000)
        self._take = client.register_script(_TAKE_NUMBERS)
        self._seed = client.register_script(_SEED)

    @classmethod
    def shared(cls, limit: int | None) -> "ReachedNumbers | None":
        client = shared_redis()
        return cls(limit, client=client) if client is not None and limit else None

    def take(self, numbers: list[str], *, now: datetime) -> set[str]:
        """Admit `numbers` (in claim order) as reached now, new ones while the limit has room; return
        the numbers refused."""
        numbers = list(dict.fromkeys(numbers))
        if not numbers:
            return set()
        for _ in range(2):
            refused = self._take(keys=self.keys, args=[self.limit, self.window_ms, *numbers])
            if refused != -1:
                return {number.decode() if isinstance(number, bytes) else number for number in refused}
            self.seed(now=now)
        raise RuntimeError("The WhatsApp numbers reached could not be seeded in Redis.")

    def count(self, *, now: datetime) -> int:
        """How many numbers were reached in the window (seeding first when needed)."""
        if not self.client.exists(self.keys[1]):
            self.seed(now=now)
        since = self.client.time()
        floor_ms = since[0] * 1000 + since[1] // 1000 - self.window_ms
        return int(self.client.zcount(self.keys[0], floor_ms, "+inf"))

    def seed(self, *, now: datetime) -> bool:
        """Fill the set from the ledger (the rows handed over in the window), unless a worker did."""
        pairs = []
        for number, at in _reached(now).values_list("to_address", "handed_over_at").order_by("-handed_over_at"):
            pairs += [int(at.timestamp() * 1000), number]  # the latest first: NX keeps it
        return bool(self._seed(keys=self.keys, args=[self.window_ms, uuid.uuid4().hex, *pairs]))
