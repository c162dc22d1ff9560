"""
Who a subject's messages reached, and by when: the provider's receipt (email delivered, WhatsApp
delivered or read), and for in-app only a notification the person saw. Read by the owning app's
figures (lms: a session's reminders reached each student at least 10 minutes before the start).

The escalation ladder's side (lms.reach decides; this writes and reads the ledger for it): the
steps of one event per recipient (`ladder_steps`), who any of an event's messages reached
(`recipients_with_receipt`); the writes are services.ladder's.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q

from .kinds import INAPP
from .models import Delivery, Notification

Status = Delivery.Status
RECEIPTS = (Status.DELIVERED, Status.OPENED, Status.CLICKED)


def recipients_reached(*, kinds: Iterable[str], event_key: str, before: dt.datetime) -> dict[str, set[int]]:
    """{channel (and "inapp"): the accounts a message of `kinds` about the event `event_key` reached
    by `before`}; under "reachable", the accounts with an email or WhatsApp message that was not suppressed."""
    keys = [f"{kind}:{event_key}" for kind in kinds]
    rows = Delivery.objects.filter(_keys_and_steps(kinds, event_key), recipient_id__isnull=False, is_test=False)
    in_time = Q(delivered_at__lte=before) | Q(opened_at__lte=before) | Q(clicked_at__lte=before)
    reached: dict[str, set[int]] = {}
    for channel, recipient in rows.filter(in_time, status__in=RECEIPTS).values_list("channel", "recipient_id"):
        reached.setdefault(channel, set()).add(recipient)
    seen = Notification.objects.filter(event__key__in=keys, read_at__lte=before)
    reached[INAPP] = set(seen.values_list("user_id", flat=True))
    reached["reachable"] = set(rows.exclude(status=Status.SUPPRESSED).values_list("recipient_id", flat=True).distinct())
    return reached


# --- The escalation ladder -------------------------------------------------------------------------

STEP = ":step"  # a ladder step's event key: "<kind>:<event key>:step<n>"
GONE = (Status.FAILED, Status.BOUNCED, Status.COMPLAINED, Status.SUPPRESSED, Status.EXPIRED, Status.CANCELLED)
WAITING = (Status.PENDING, Status.HELD)


def _keys_and_steps(kinds: Iterable[str], event_key: str) -> Q:
    """The rows of `kinds` about `event_key`, and their ladder steps."""
    kinds = list(kinds)
    query = Q(event__key__in=[f"{kind}:{event_key}" for kind in kinds])
    for kind in kinds:
        query |= Q(event__key__startswith=f"{kind}:{event_key}{STEP}")
    return query


@dataclass(frozen=True)
class LadderStep:
    delivery_id: int
    step: int
    channel: str
    status: str
    created_at: dt.datetime
    sent_at: dt.datetime | None
    receipt_at: dt.datetime | None  # delivered, or else read (opened/clicked)
    read_at: dt.datetime | None

    @property
    def gone(self) -> bool:
        """Failed, bounced, suppressed, expired or cancelled: it will never arrive."""
        return self.status in GONE


def ladder_steps(
    *, kind: str, event_key: str, recipients: Iterable[int] | None = None
) -> dict[int, dict[int, LadderStep]]:
    """{recipient: {step number: its row}} for the ladder steps of `kind` about `event_key`."""
    rows = Delivery.objects.filter(event__key__startswith=f"{kind}:{event_key}{STEP}", recipient_id__isnull=False)
    if recipients is not None:
        rows = rows.filter(recipient_id__in=list(recipients))
    steps: dict[int, dict[int, LadderStep]] = {}
    for row in rows.values(
        "pk", "event__key", "recipient_id", "channel", "status", "created_at", "sent_at", "delivered_at", "opened_at"
    ):
        number = int(row["event__key"].rsplit(STEP, 1)[1])
        steps.setdefault(row["recipient_id"], {})[number] = LadderStep(
            delivery_id=row["pk"],
            step=number,
            channel=row["channel"],
            status=row["status"],
            created_at=row["created_at"],
            sent_at=row["sent_at"],
            receipt_at=row["delivered_at"] or row["opened_at"],
            read_at=row["opened_at"],
        )
    return steps


def recipients_with_receipt(
    *, kinds: Iterable[str], event_key: str, recipients: Iterable[int] | None = None, sent_counts_on: Iterable[str] = ()
) -> dict[int, tuple[str, str, dt.datetime]]:
    """{recipient: (channel, status, when)} of the first receipt (delivered, read; in-app: seen) of
    any message of `kinds` about `event_key` (their ladder steps too), whenever it came. On the
    channels `sent_counts_on` (those that report no receipt), a message sent counts, when it was sent."""
    kinds, blind = list(kinds), list(sent_counts_on)
    rows = Delivery.objects.filter(_keys_and_steps(kinds, event_key), recipient_id__isnull=False)
    receipt = Q(delivered_at__isnull=False) | Q(opened_at__isnull=False) | Q(clicked_at__isnull=False)
    if blind:
        receipt |= Q(channel__in=blind, sent_at__isnull=False)
    rows = rows.filter(receipt)
    seen = Notification.objects.filter(event__key__in=[f"{kind}:{event_key}" for kind in kinds], read_at__isnull=False)
    if recipients is not None:
        rows, seen = rows.filter(recipient_id__in=list(recipients)), seen.filter(user_id__in=list(recipients))
    found: dict[int, tuple[str, str, dt.datetime]] = {}
    for recipient, channel, status, delivered, opened, clicked, sent in rows.values_list(
        "recipient_id", "channel", "status", "delivered_at", "opened_at", "clicked_at", "sent_at"
    ):
        at = min((moment for moment in (delivered, opened, clicked) if moment is not None), default=sent)
        if recipient not in found or at < found[recipient][2]:
            found[recipient] = (channel, status, at)
    for user, at in seen.values_list("user_id", "read_at"):
        if user not in found or at < found[user][2]:
            found[user] = (INAPP, "seen", at)
    return found


def reminders_on_their_way(
    *, kinds: Iterable[str], event_key: str, recipients: Iterable[int]
) -> dict[int, tuple[bool, dt.datetime | None]]:
    """{recipient: (a message not sent yet, when the latest one sent without a receipt went)} for the
    messages of `kinds` about `event_key` (not their ladder steps): what the ladder waits on first."""
    rows = Delivery.objects.filter(
        event__key__in=[f"{kind}:{event_key}" for kind in kinds], recipient_id__in=list(recipients)
    )
    found: dict[int, tuple[bool, dt.datetime | None]] = {}
    for recipient, status, sent_at in rows.filter(
        status__in=(*WAITING, Status.SENDING, Status.SENT, Status.UNKNOWN)
    ).values_list("recipient_id", "status", "sent_at"):
        waiting, latest = found.get(recipient, (False, None))
        if status in (*WAITING, Status.SENDING):
            waiting = True
        elif sent_at is not None and (latest is None or sent_at > latest):
            latest = sent_at
        found[recipient] = (waiting, latest)
    return found


def recipients_read(*, kinds: Iterable[str], event_key: str, recipients: Iterable[int]) -> dict[int, dt.datetime]:
    """{recipient: when they first read (opened) a message of `kinds` about `event_key`}."""
    rows = Delivery.objects.filter(
        _keys_and_steps(list(kinds), event_key), recipient_id__in=list(recipients), opened_at__isnull=False
    )
    read: dict[int, dt.datetime] = {}
    for recipient, at in rows.values_list("recipient_id", "opened_at"):
        read[recipient] = min(at, read.get(recipient, at))
    return read
