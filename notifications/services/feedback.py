"""
Provider feedback: delivery, opens, bounces and complaints move a delivery forward, never back.

Channels translate their provider's webhook into a ProviderEvent; this module knows nothing of
anymail or Twilio. Duplicate and out-of-order events apply once: a late "delivered" never
undoes "bounced", and a repeated "bounced" adds nothing.
"""

import datetime as dt
import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from ..conf import conf
from ..models import Delivery, DeliveryEvent, Suppression
from .dispatch import suppress_address
from .dispatch.record import RANK, TIMESTAMPS, retry_delay, suppress_at_limit
from .ladder import announce_change
from .pauses import pause_channel

logger = logging.getLogger(__name__)
Status = Delivery.Status


@dataclass(frozen=True)
class ProviderEvent:
    channel: str
    status: str  # one of Delivery.Status: sent, delivered, opened, clicked, failed, bounced, complained
    delivery_id: int | None = None
    provider_message_id: str = ""
    occurred_at: dt.datetime | None = None
    detail: str = ""
    error_code: str = ""
    soft: bool = False  # a soft (temporary) bounce
    suppress: bool = False  # the provider says the address is unusable (invalid number, STOP)
    suppress_category: str = ""  # the person stopped one category at the provider (Meta: marketing)
    # The number failed in a way that may be temporary (Meta 131026): suppressed only once it has
    # happened SOFT_BOUNCE_LIMIT times, like a soft bounce.
    suppress_at_limit: bool = False
    # A failure that is not the message's: the provider account cannot send (Meta 131042, a bill
    # unpaid), or the provider had a bad moment. The message goes back to `pending`; an account
    # failure pauses the channel and uses no attempt, as when the send itself is refused.
    account: bool = False
    transient: bool = False
    address: str = ""


@transaction.atomic
def apply_provider_event(*, event: ProviderEvent) -> Delivery | None:
    """Apply one provider event to its delivery; return it, or None when no delivery matches."""
    # With its event (announce_change names it), locking the delivery's row only.
    rows = Delivery.objects.select_related("event").select_for_update(of=("self",))
    delivery = None
    if event.delivery_id:
        delivery = rows.filter(pk=event.delivery_id, channel=event.channel).first()
    if delivery is None and event.provider_message_id:
        delivery = rows.filter(provider_message_id=event.provider_message_id, channel=event.channel).first()
    if delivery is None:
        logger.info("No delivery for %s event %s (%s)", event.channel, event.status, event.provider_message_id)
        return None
    at = event.occurred_at or timezone.now()
    address = event.address or delivery.to_address
    status = event.status
    label = f"Provider reported {status}" + (" (soft bounce)" if event.soft else "")
    detail = f"{label}: {event.detail}".strip(": ")[:2000]

    if _already_recorded(delivery, status, detail):
        return delivery
    if status == Status.FAILED and (event.account or event.transient) and _requeue(delivery, event, at=at):
        return delivery

    updates = {}
    field = TIMESTAMPS.get(status)
    if field and getattr(delivery, field) is None:
        updates[field] = at
    if event.provider_message_id and not delivery.provider_message_id:
        updates["provider_message_id"] = event.provider_message_id
    soft_bounce = status == Status.BOUNCED and event.soft
    # A row still being sent is left to its worker; a soft bounce is not final.
    if delivery.status != Status.SENDING and not soft_bounce and RANK[status] > RANK[delivery.status]:
        updates["status"] = status
        if status in (Status.FAILED, Status.BOUNCED, Status.COMPLAINED):
            updates["error_code"] = event.error_code or status
            updates["last_error"] = event.detail[:2000]
    if updates:
        for key, value in {**updates, "updated_at": timezone.now()}.items():
            setattr(delivery, key, value)
        delivery.save(update_fields=[*updates, "updated_at"])
    DeliveryEvent.objects.create(delivery=delivery, at=at, status=status, detail=detail)
    _suppress_if_needed(delivery, event, address, soft_bounce)
    if "status" in updates:
        announce_change(delivery, at=at)  # signals.delivery_status_changed: the owning app may act on it
    return delivery


def _already_recorded(delivery: Delivery, status: str, detail: str) -> bool:
    return delivery.events.filter(status=status, detail=detail).exists()


def _requeue(delivery: Delivery, event: ProviderEvent, *, at: dt.datetime) -> bool:
    """A message that failed for no fault of its own goes back to `pending` (an account failure
    pauses the channel too); return False when it must fail after all (out of attempts).

    A row still `sending` goes back too: the provider's failure came before its worker recorded
    the acceptance (a webhook overtaking the answer). The row keeps the failed message's id, so
    that acceptance, recorded later, cannot win (the ledger's rule); another message's can.
    """
    now = timezone.now()
    label = f"Provider reported failed{f' ({event.provider_message_id})' if event.provider_message_id else ''}"
    if (
        event.provider_message_id
        and delivery.events.filter(status=Status.PENDING, detail__startswith=f"{label}: {event.detail} ").exists()
    ):
        return True  # the provider delivered this report again: applied once
    waiting = delivery.status in (Status.SENT, Status.UNKNOWN, Status.SENDING) and _about_its_message(delivery, event)
    if event.account:
        pause = pause_channel(channel=delivery.channel, reason=event.detail, error_code=event.error_code, now=now)
        next_attempt_at, attempts = pause.until, max(0, delivery.attempts - 1)
        note = f"The provider account cannot send: {delivery.channel} is paused, nothing failed."
    elif delivery.attempts < conf.max_attempts:
        next_attempt_at, attempts = now + retry_delay(attempts=delivery.attempts), delivery.attempts
        note = f"Sending it again after {int((next_attempt_at - now).total_seconds())} s."
    else:
        return False
    detail = f"{label}: {event.detail} {note}"[:2000]
    if waiting:  # not one already past `sent`, nor one a later try has taken (its worker decides)
        Delivery.objects.filter(pk=delivery.pk).update(
            status=Status.PENDING,
            next_attempt_at=next_attempt_at,
            attempts=attempts,
            # The message that failed: the next try's acceptance replaces it; its own cannot.
            provider_message_id=event.provider_message_id,
            error_code=event.error_code,
            last_error=event.detail[:2000],
            updated_at=now,
        )
        delivery.refresh_from_db()
    DeliveryEvent.objects.create(delivery=delivery, at=at, status=Status.PENDING, detail=detail)
    return True


def _about_its_message(delivery: Delivery, event: ProviderEvent) -> bool:
    """True when a failure report is about the row's latest message, not an earlier one's."""
    if not event.provider_message_id or delivery.provider_message_id in ("", event.provider_message_id):
        return True
    # The row still holds an earlier message that failed (kept so that its acceptance cannot win):
    # a try after it has no id on the row yet, and this report is about that one.
    return (
        delivery.status in (Status.SENDING, Status.UNKNOWN)
        and delivery.events.filter(
            status=Status.PENDING, detail__startswith=f"Provider reported failed ({delivery.provider_message_id}): "
        ).exists()
    )


def _suppress_if_needed(delivery: Delivery, event: ProviderEvent, address: str, soft_bounce: bool) -> None:
    if event.status == Status.COMPLAINED:
        suppress_address(
            channel=delivery.channel, address=address, reason=Suppression.Reason.COMPLAINED, detail=event.detail
        )
    elif event.status == Status.BOUNCED and not soft_bounce:
        suppress_address(
            channel=delivery.channel, address=address, reason=Suppression.Reason.BOUNCED, detail=event.detail
        )
    elif soft_bounce:
        limit = conf.soft_bounce_limit
        soft = DeliveryEvent.objects.filter(
            delivery__channel=delivery.channel, delivery__to_address=address, detail__contains="(soft bounce)"
        ).count()
        if soft >= limit:
            suppress_address(
                channel=delivery.channel,
                address=address,
                reason=Suppression.Reason.BOUNCED,
                detail=f"{soft} soft bounces: {event.detail}",
            )
    elif event.suppress_at_limit:
        suppress_at_limit(channel=delivery.channel, address=address, error_code=event.error_code, detail=event.detail)
    elif event.suppress:
        reason = Suppression.Reason.OPTED_OUT if event.error_code == "21610" else Suppression.Reason.INVALID
        suppress_address(channel=delivery.channel, address=address, reason=reason, detail=event.detail)
    elif event.suppress_category:
        suppress_address(
            channel=delivery.channel,
            address=address,
            reason=Suppression.Reason.OPTED_OUT,
            category=event.suppress_category,
            detail=event.detail,
        )
