"""
The reach ladder's writes (lms.reach decides): one step planned on one channel with its reason on
the history (`plan_ladder_step`), a decision noted on a row's history (`note_delivery`), the steps
not yet sent cancelled once the person is reached (`cancel_waiting_steps`), and the signal a
provider's receipt sends (`delivery_status_changed`, from services.feedback through `announce_change`).
"""

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from common.db import insert_ignoring_conflicts

from ..kinds import get_kind
from ..models import Delivery, DeliveryEvent
from ..reach import STEP, WAITING
from ..recipients import Recipient, address, recipient_context, stored_language, unmet_requirement
from ..signals import delivery_status_changed
from .ledger import cancel_deliveries
from .planning import event_ids, own_context, priority_for

Status = Delivery.Status


@dataclass(frozen=True)
class DeliveryChange:
    """What the delivery_status_changed signal says of a row (no model leaves notifications)."""

    delivery_id: int
    kind: str
    event_key: str
    subject_type: str
    subject_id: int | None
    recipient_id: int | None
    channel: str
    status: str


def note_delivery(delivery_id: int, detail: str, *, now: dt.datetime | None = None) -> None:
    """Put a decision about a row on its history (its status unchanged)."""
    row = Delivery.objects.filter(pk=delivery_id).values_list("status", flat=True).first()
    if row is not None:
        DeliveryEvent.objects.create(
            delivery_id=delivery_id, at=now or timezone.now(), status=row, detail=detail[:2000]
        )


@transaction.atomic
def plan_ladder_step(
    *,
    kind: str,
    event_key: str,
    step: int,
    recipient_id: int,
    channel: str,
    context: dict,
    subject_type: str,
    subject_id: int,
    expires_at: dt.datetime,
    reason: str,
    now: dt.datetime | None = None,
) -> tuple[int | None, str]:
    """Plan step `step` of the ladder of `kind` about `event_key` for one account, on `channel` only,
    with `reason` on its history; return (its id, ""), or (None, "exists") when it exists already (the
    ledger's key: two decisions at once make one row), or (None, why) when the account cannot get the
    channel (no account, no number, no consent)."""
    message_kind = get_kind(kind)
    now = now or timezone.now()
    user = get_user_model().objects.filter(pk=recipient_id).first()
    if user is None:
        return None, "no_account"
    recipient = Recipient.for_user(user)
    if unmet := unmet_requirement(channel, recipient):
        return None, unmet
    full_key = f"{kind}:{event_key}{STEP}{step}"
    context = {**context, **recipient_context(recipient.name)}
    if language := stored_language(recipient.language):
        context.setdefault("language", language)
    ids = event_ids(
        {full_key: {"kind": kind, "created_at": now, "subject_type": subject_type, "subject_id": subject_id}}
    )
    made = insert_ignoring_conflicts(
        Delivery,
        [
            {
                "channel": channel,
                "event_id": ids[full_key],
                "recipient_id": recipient_id,
                "to_address": address(channel, recipient),
                "own_context": own_context(recipient, context),
                "next_attempt_at": now,
                "priority": min(priority_for(message_kind), 0),
                "expires_at": expires_at,
                "created_at": now,
            }
        ],
        any_conflict=True,
    )
    if not made:
        return None, "exists"
    DeliveryEvent.objects.create(delivery_id=made[0], at=now, status=Status.PENDING, detail=reason[:2000])
    return made[0], ""


def cancel_waiting_steps(
    *, kind: str, event_key: str, recipient_id: int, reason: str, now: dt.datetime | None = None
) -> int:
    """Cancel the ladder steps to one account not yet sent (pending or held), with `reason`."""
    rows = Delivery.objects.filter(
        event__key__startswith=f"{kind}:{event_key}{STEP}", recipient_id=recipient_id, status__in=WAITING
    )
    return cancel_deliveries(deliveries=rows, reason=reason, now=now) if rows.exists() else 0


def announce_change(delivery: Delivery, *, at: dt.datetime) -> None:
    """Send delivery_status_changed for a row a receipt just moved (services.feedback)."""
    event = delivery.event
    change = DeliveryChange(
        delivery_id=delivery.pk,
        kind=event.kind,
        event_key=event.key,
        subject_type=event.subject_type,
        subject_id=event.subject_id,
        recipient_id=delivery.recipient_id,
        channel=delivery.channel,
        status=delivery.status,
    )
    delivery_status_changed.send(sender=Delivery, change=change, at=at)
