"""Reads of the ledger shared by jobs, commands, health checks and the admin, and the reads other
apps make through `notifications.api` (counts about their subjects, suppressions and consents, the
ledger's health): they name what they need, never the ledger's models."""

import datetime as dt
import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import reduce

from django.db.models import Count, F, Min, Q, QuerySet, Sum

from .models import (
    Category,
    ChannelPause,
    Delivery,
    DeliveryDailyCount,
    InboundMessage,
    Suppression,
    WhatsAppConsent,
    WhatsAppTemplate,
)

Status = Delivery.Status
# A sent message: the provider took it (and maybe more happened since). Not a bounce, not a failure.
SENT_STATUSES = (Status.SENT, Status.DELIVERED, Status.OPENED, Status.CLICKED)
# How a subject's deliveries are counted: each count's statuses among the live rows.
_COUNTED = {
    "sent": SENT_STATUSES,
    "bounced": (Status.BOUNCED, Status.COMPLAINED),
    "failed": (Status.FAILED, Status.UNKNOWN),
    "waiting": (Status.PENDING, Status.SENDING),  # planned, not sent yet (never purged)
}
# The suppression categories that stop a marketing message: every category (a bounce) or marketing.
MARKETING_SUPPRESSION_SCOPES = (Suppression.ALL_CATEGORIES, Category.MARKETING)


def count_due_deliveries(*, now: dt.datetime) -> int:
    """Return how many deliveries are waiting to be sent now."""
    return Delivery.objects.filter(status=Status.PENDING, next_attempt_at__lte=now).count()


def oldest_due_delivery_at(*, now: dt.datetime) -> dt.datetime | None:
    """Return when the longest-waiting due delivery became due (None when nothing waits)."""
    return Delivery.objects.filter(status=Status.PENDING, next_attempt_at__lte=now).aggregate(
        oldest=Min("next_attempt_at")
    )["oldest"]


def delivery_counts(*, since: dt.datetime | None = None) -> list[dict]:
    """Return delivery counts by kind, channel and status (optionally only rows made since a time)."""
    rows = Delivery.objects.all()
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    return list(
        rows.values("channel", "status", kind=F("event__kind"))
        .annotate(count=Count("id"))
        .order_by("kind", "channel", "status")
    )


def delivery_timeline(*, recipient_id: int | None = None, addresses: list[str] = (), limit: int = 25) -> dict:
    """Return a person's recent deliveries (newest first), the suppressions on their addresses, their
    WhatsApp replies and consents."""
    addresses = [address for address in addresses if address]
    match = Q(to_address__in=addresses)
    if recipient_id is not None:
        match |= Q(recipient_id=recipient_id)
    deliveries = list(
        Delivery.objects.filter(match)
        .order_by("-created_at", "-id")
        .select_related("event")
        .only("event__kind", "channel", "status", "to_address", "created_at", "sent_at", "last_error")[:limit]
    )
    suppressions = list(Suppression.objects.filter(address__in=addresses).order_by("-created_at"))
    replies = Q(from_address__in=addresses)
    if recipient_id is not None:
        replies |= Q(user_id=recipient_id)
    return {
        "deliveries": deliveries,
        "suppressions": suppressions,
        # What they wrote to us on WhatsApp, and their WhatsApp consent per category.
        "replies": list(InboundMessage.objects.filter(replies).order_by("-received_at")[:10]),
        "consents": list(WhatsAppConsent.objects.filter(address__in=addresses).order_by("category")),
    }


# --- About other apps' subjects (a lead, a session...): live rows and the counts retention kept ---
#
# The retention job removes old rows and keeps, per subject, day and kind, the counts of what they
# were (DeliveryDailyCount, for the subject types NOTIFICATIONS["RETENTION_COUNT_BY_SUBJECT"]
# names). A row is in one or the other, never both, so every figure below adds the two.
# `subject_ids` may be a list or a query of ids (`leads.values("pk")`): it stays one statement.


def _live(*, subject_type: str, subject_ids, channel: str) -> QuerySet:
    return Delivery.objects.filter(event__subject_type=subject_type, event__subject_id__in=subject_ids, channel=channel)


def _purged(*, subject_type: str, subject_ids, channel: str) -> QuerySet:
    return DeliveryDailyCount.objects.filter(subject_type=subject_type, subject_id__in=subject_ids, channel=channel)


def delivery_counts_for_subjects(*, subject_type: str, subject_ids, channel: str) -> dict[str, dict[str, int]]:
    """Return, per kind, how many of the subjects' messages on `channel` were sent, bounced (or
    complained of), failed (or stayed unknown) and are still waiting: live rows and purged ones."""
    live = _live(subject_type=subject_type, subject_ids=subject_ids, channel=channel)
    by_kind = {
        row.pop("kind"): row
        for row in live.values(kind=F("event__kind"))
        .annotate(**{key: Count("id", filter=Q(status__in=statuses)) for key, statuses in _COUNTED.items()})
        .order_by()
    }
    purged = _purged(subject_type=subject_type, subject_ids=subject_ids, channel=channel)
    for row in (
        purged.values("kind")
        .annotate(sent=Sum("sent"), bounced=Sum("bounced") + Sum("complained"), failed=Sum("failed"))
        .order_by()
    ):
        into = by_kind.setdefault(row["kind"], dict.fromkeys(_COUNTED, 0))
        for key in ("sent", "bounced", "failed"):
            into[key] += row[key] or 0
    return by_kind


def send_times_for_subjects(*, subject_type: str, subject_ids, channel: str) -> list[tuple[int, str, dt.datetime]]:
    """Return (subject id, kind, when sent) for the subjects' sent messages on `channel`: each live
    sent row, and the first send of each purged subject and kind."""
    live = _live(subject_type=subject_type, subject_ids=subject_ids, channel=channel)
    purged = _purged(subject_type=subject_type, subject_ids=subject_ids, channel=channel)
    return [
        *live.filter(status__in=SENT_STATUSES).values_list("event__subject_id", "event__kind", "sent_at"),
        *purged.filter(sent__gt=0).values_list("subject_id", "kind").annotate(first=Min("first_sent_at")).order_by(),
    ]


def count_subjects_sent_to(*, subject_type: str, subject_ids, channel: str) -> int:
    """Return how many of the subjects were sent at least one message on `channel` (live or purged)."""
    live = _live(subject_type=subject_type, subject_ids=subject_ids, channel=channel)
    purged = _purged(subject_type=subject_type, subject_ids=subject_ids, channel=channel)
    return (
        live.filter(status__in=SENT_STATUSES)
        .values(subject_id=F("event__subject_id"))
        .order_by()
        .union(purged.filter(sent__gt=0).values("subject_id").order_by())
        .count()
    )


def spend_for_subjects(*, subjects: Mapping[str, object], channel: str) -> dict:
    """Return the messages sent on `channel` about the subjects (`{subject type: ids}`), live (test
    sends left out) and purged, and their estimated cost (INR): {"messages": int, "cost": Decimal}."""
    live_match = reduce(
        operator.or_, (Q(event__subject_type=kind, event__subject_id__in=ids) for kind, ids in subjects.items())
    )
    purged_match = reduce(operator.or_, (Q(subject_type=kind, subject_id__in=ids) for kind, ids in subjects.items()))
    live = Delivery.objects.filter(live_match, channel=channel, is_test=False).aggregate(
        cost=Sum("cost"), messages=Count("id", filter=Q(status__in=SENT_STATUSES))
    )
    purged = DeliveryDailyCount.objects.filter(purged_match, channel=channel).aggregate(
        cost=Sum("cost"), messages=Sum("sent")
    )
    return {
        "messages": (live["messages"] or 0) + (purged["messages"] or 0),
        "cost": (live["cost"] or Decimal("0")) + (purged["cost"] or Decimal("0")),
    }


def recipients_sent_about(
    *, kinds: Iterable[str], channel: str, subject_type: str, subject_id: int, except_event_key_ending: str = ""
) -> QuerySet:
    """The accounts sent a message of one of `kinds` about a subject on `channel` (a query of
    `recipient_id`s, to use as a subquery), leaving out one event's (its key's ending)."""
    sent = Delivery.objects.filter(
        event__kind__in=list(kinds),
        channel=channel,
        event__subject_type=subject_type,
        event__subject_id=subject_id,
        status__in=SENT_STATUSES,
        recipient_id__isnull=False,
    )
    if except_event_key_ending:
        sent = sent.exclude(event__key__endswith=except_event_key_ending)
    return sent.values("recipient_id")


def planned_message_status(*, delivery_ids: Iterable[int], kind: str, channel: str) -> str | None:
    """Return the status of the message of `kind` on `channel` among `delivery_ids` (None: none)."""
    return (
        Delivery.objects.filter(pk__in=list(delivery_ids), event__kind=kind, channel=channel)
        .values_list("status", flat=True)
        .first()
    )


def message_planned_since(*, kind: str, channel: str, to_address: str, since: dt.datetime) -> bool:
    """Whether a message of `kind` to `to_address` on `channel` was planned after `since`."""
    return Delivery.objects.filter(
        event__kind=kind, channel=channel, to_address=to_address, created_at__gt=since
    ).exists()


def delivery_id_for_subject(*, kind: str, subject_type: str, subject_id: int) -> int:
    """Return the id of the one message of `kind` about a subject (DoesNotExist or
    MultipleObjectsReturned otherwise), for a provider event or an unsubscribe link."""
    return Delivery.objects.get(event__kind=kind, event__subject_type=subject_type, event__subject_id=subject_id).pk


# --- Suppressions and consents, as other apps' queries use them ------------------------------


def marketing_suppressions(*, channel: str, address) -> QuerySet:
    """The suppressions that stop marketing on `channel` to `address` (a value, or an expression in
    an outer query such as `Lower(OuterRef("email"))`), oldest first: use it in `Exists()`, or read
    its `reason` and `detail`."""
    return Suppression.objects.filter(
        channel=channel, address=address, category__in=MARKETING_SUPPRESSION_SCOPES
    ).order_by("created_at", "pk")


def count_suppressions(*, addresses: Iterable[str]) -> int:
    """Return how many suppressions (any channel, any category) name one of `addresses`."""
    return Suppression.objects.filter(address__in=list(addresses)).count()


def whatsapp_marketing_consents(*, address=None) -> QuerySet:
    """The WhatsApp marketing consents given (to `address` only when given: a value, or an
    expression in an outer query such as `OuterRef("phone")`): use it in `Exists()`, or ask `.exists()`."""
    consents = WhatsAppConsent.objects.filter(category=WhatsAppConsent.Category.MARKETING, given=True)
    return consents if address is None else consents.filter(address=address)


# --- The ledger's health, for the operator's check ----------------------------------------------


@dataclass(frozen=True)
class PausedChannel:
    """A channel whose provider cannot take messages (its messages wait; nothing fails)."""

    channel: str
    reason: str  # what the provider said
    since: dt.datetime
    until: dt.datetime  # when sending is tried again
    failures: int  # tries refused in a row


@dataclass(frozen=True)
class LedgerHealth:
    unsettled: int  # `unknown` deliveries not updated since the time asked about
    oldest_unsettled_at: dt.datetime | None  # the longest-waiting one's last update
    paused_channels: list[PausedChannel]
    whatsapp_templates_synced: bool  # the WhatsApp provider's templates were synced (True with no provider)


def count_unknown_deliveries() -> int:
    """Return how many deliveries are `unknown` (sent or not: the provider must say)."""
    return Delivery.objects.filter(status=Status.UNKNOWN).count()


def ledger_health(*, unsettled_before: dt.datetime, whatsapp_provider: str = "") -> LedgerHealth:
    """Return what an operator must act on in the ledger: `unknown` deliveries last updated before
    `unsettled_before`, paused channels, a WhatsApp provider whose templates were never synced."""
    unsettled = Delivery.objects.filter(status=Status.UNKNOWN, updated_at__lt=unsettled_before).aggregate(
        count=Count("id"), oldest=Min("updated_at")
    )
    paused = [
        PausedChannel(pause.channel, pause.reason, pause.since, pause.until, pause.failures)
        for pause in ChannelPause.objects.order_by("channel")
    ]
    synced = not whatsapp_provider or WhatsAppTemplate.objects.filter(provider=whatsapp_provider).exists()
    return LedgerHealth(
        unsettled=unsettled["count"],
        oldest_unsettled_at=unsettled["oldest"],
        paused_channels=paused,
        whatsapp_templates_synced=synced,
    )
