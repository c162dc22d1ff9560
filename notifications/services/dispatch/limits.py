"""
Meta's messaging limit: a WhatsApp sender starts business-initiated conversations with at most
WHATSAPP_DAILY_UNIQUE_RECIPIENTS different people in a moving 24 hours (250 for a new sender,
then 1K, 10K, 100K as its tier grows). Past it Meta refuses the messages, so dispatch holds back
messages to numbers not yet reached in the window (they wait, in claim order: urgent kinds
first), while numbers already reached, and replies to a person's own message, go on.
"""

from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, Q, QuerySet

from ...conf import conf
from ...kinds import all_kinds
from ...models import Channel, Delivery

WINDOW = timedelta(hours=24)


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
    return max(0, limit - _reached(now).values("to_address").distinct().count())


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
    numbers = {d.to_address for d in candidates}
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
