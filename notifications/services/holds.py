"""
Staff holds (the outbox): stop one event's messages, or one person's, before they go, with a reason.

"Held" is a status of the ledger's row (`Delivery.Status.HELD`), not a column beside `pending`:
the claim takes only `pending` rows, so a held row is never claimed and needs no new condition in
the dispatcher's queue (its partial index stays "status = pending"); retention keeps it (it is
live); every count by status shows it as what it is. It stays the same row, so the ledger's unique
key still decides "already planned": a planning run after a hold inserts nothing again. A release
puts it back to `pending`.

An event's hold is also written on the event (`MessageEvent.held_at`): a row of that event planned
after the hold (a student who enrolls later) is turned `held` by the dispatcher's gate instead of
being sent. A subject's hold (`SubjectHold`: every message about a session, its "tomorrow" and its
"starting soon" reminders) holds the rows of its events now and, through the gate, those of events
planned later. A person's hold covers the rows planned for them when it is made.

Every change writes a line on each row's history (DeliveryEvent) with who did it and why.
"""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from ..models import Delivery, DeliveryEvent, MessageEvent, SubjectHold

Status = Delivery.Status
# What a hold or a cancel may stop: messages not yet handed to a worker.
STOPPABLE = (Status.PENDING, Status.HELD)


def _rows(*, event_ids=None, recipient_id: int | None = None, to_address: str = "", subject=None) -> QuerySet:
    if subject is not None:
        subject_type, subject_id = subject
        return Delivery.objects.filter(event__subject_type=subject_type, event__subject_id=subject_id)
    if event_ids is not None:
        return Delivery.objects.filter(event_id__in=list(event_ids))
    if recipient_id is None and not to_address:
        raise ValidationError("Name an event or a person.")
    if recipient_id is not None:
        return Delivery.objects.filter(recipient_id=recipient_id)
    return Delivery.objects.filter(recipient__isnull=True, to_address=to_address)


def held_subjects(deliveries) -> set[tuple[str, int]]:
    """The (subject type, subject id) of `deliveries`' events that staff hold (one query)."""
    subjects = {(d.event.subject_type, d.event.subject_id) for d in deliveries if d.event.subject_type}
    if not subjects:
        return set()
    return set(
        SubjectHold.objects.filter(
            subject_type__in={kind for kind, _ in subjects}, subject_id__in={pk for _, pk in subjects}
        ).values_list("subject_type", "subject_id")
    )


def _change(rows: QuerySet, *, old: tuple, new: str, detail: str, now: dt.datetime, **fields) -> int:
    ids = list(rows.filter(status__in=old).select_for_update(skip_locked=True).values_list("id", flat=True))
    if not ids:
        return 0
    Delivery.objects.filter(id__in=ids, status__in=old).update(status=new, updated_at=now, **fields)
    DeliveryEvent.objects.bulk_create(DeliveryEvent(delivery_id=pk, at=now, status=new, detail=detail) for pk in ids)
    return len(ids)


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Say why.")
    return reason[:255]


@transaction.atomic
def hold_messages(
    *,
    reason: str,
    by: str = "",
    event_ids=None,
    recipient_id=None,
    to_address="",
    subject: tuple[str, int] | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Hold the pending messages of the events `event_ids`, or about a `subject` ((type, id): those
    planned later too), or of one person; return how many rows were held now."""
    reason, now = _reason(reason), now or timezone.now()
    if subject is not None:
        SubjectHold.objects.update_or_create(
            subject_type=subject[0], subject_id=subject[1], defaults={"reason": reason, "held_by": by}
        )
    elif event_ids is not None:
        MessageEvent.objects.filter(pk__in=list(event_ids)).update(held_at=now, hold_reason=reason)
    rows = _rows(event_ids=event_ids, recipient_id=recipient_id, to_address=to_address, subject=subject)
    return _change(rows, old=(Status.PENDING,), new=Status.HELD, detail=f"Held by {by or 'staff'}: {reason}", now=now)


@transaction.atomic
def release_messages(
    *, reason: str = "", by: str = "", event_ids=None, recipient_id=None, to_address="", subject=None, now=None
) -> int:
    """Release held messages (of events, about a subject, or of one person): they are pending again;
    return how many. (A row whose event or subject is still held is held again by the gate.)"""
    now = now or timezone.now()
    if subject is not None:
        SubjectHold.objects.filter(subject_type=subject[0], subject_id=subject[1]).delete()
        MessageEvent.objects.filter(subject_type=subject[0], subject_id=subject[1]).update(held_at=None, hold_reason="")
    elif event_ids is not None:
        MessageEvent.objects.filter(pk__in=list(event_ids)).update(held_at=None, hold_reason="")
    rows = _rows(event_ids=event_ids, recipient_id=recipient_id, to_address=to_address, subject=subject)
    detail = f"Released by {by or 'staff'}" + (f": {reason.strip()}" if reason.strip() else ".")
    return _change(rows, old=(Status.HELD,), new=Status.PENDING, detail=detail, now=now, next_attempt_at=now)


@transaction.atomic
def cancel_messages(
    *, reason: str, by: str = "", event_ids=None, recipient_id=None, to_address="", subject=None, now=None
) -> int:
    """Cancel the pending or held messages of events, about a subject, or of one person, for good;
    return how many. Rows of the events planned later wait, held, instead of going out."""
    reason, now = _reason(reason), now or timezone.now()
    if subject is not None:
        SubjectHold.objects.update_or_create(
            subject_type=subject[0], subject_id=subject[1], defaults={"reason": reason, "held_by": by}
        )
    elif event_ids is not None:
        MessageEvent.objects.filter(pk__in=list(event_ids)).update(held_at=now, hold_reason=reason)
    rows = _rows(event_ids=event_ids, recipient_id=recipient_id, to_address=to_address, subject=subject)
    detail = f"Cancelled by {by or 'staff'}: {reason}"
    return _change(rows, old=STOPPABLE, new=Status.CANCELLED, detail=detail, now=now)
