"""anymail's tracking webhooks (/anymail/<esp>/tracking/) into provider events on the ledger."""

import logging

from anymail.signals import EventType, tracking
from django.db.models import Q

from ..models import Channel, Delivery, Suppression
from ..services.dispatch import suppress_address
from ..services.feedback import ProviderEvent, apply_provider_event

logger = logging.getLogger(__name__)
Status = Delivery.Status
STATUS_FOR = {
    EventType.QUEUED: Status.SENT,
    EventType.SENT: Status.SENT,
    EventType.DELIVERED: Status.DELIVERED,
    EventType.OPENED: Status.OPENED,
    EventType.CLICKED: Status.CLICKED,
    EventType.BOUNCED: Status.BOUNCED,
    EventType.COMPLAINED: Status.COMPLAINED,
    EventType.REJECTED: Status.FAILED,
    EventType.FAILED: Status.FAILED,
}
SOFT_TYPES = {"SoftBounce", "Transient", "DnsError"}  # Postmark's bounce types that are temporary
# Providers' own words for a temporary bounce: Brevo's event, Mailgun's severity, SendGrid's type.
SOFT_MARKERS = {("event", "soft_bounce"), ("severity", "temporary"), ("type", "blocked")}
# Suppressions a provider's reactivation lifts: those the provider's own events made. A person's
# unsubscribe through our link, and staff's entries, stay.
PROVIDER_REASONS = {Suppression.Reason.BOUNCED, Suppression.Reason.COMPLAINED, Suppression.Reason.INVALID}


def _is_soft(event) -> bool:
    """Tell a temporary bounce (mailbox full, greylisted) from a permanent one, in each provider's words."""
    esp = event.esp_event if isinstance(event.esp_event, dict) else {}
    if esp.get("Type") in SOFT_TYPES or any(esp.get(key) == value for key, value in SOFT_MARKERS):
        return True
    ses_bounce = esp.get("bounce") if isinstance(esp.get("bounce"), dict) else esp
    if ses_bounce.get("bounceType") == "Transient":  # Amazon SES, inside its notification
        return True
    return (event.mta_response or "").strip()[:1] == "4"  # an SMTP 4xx reply is temporary (RFC 5321)


def _delivery_address(event) -> str:
    """The address of the delivery an event is about, for events that do not name their recipient."""
    delivery_id = str((event.metadata or {}).get("delivery_id") or "")
    rows = Delivery.objects.filter(channel=Channel.EMAIL)
    if delivery_id.isdigit():
        rows = rows.filter(pk=int(delivery_id))
    elif event.message_id:
        rows = rows.filter(provider_message_id=event.message_id)
    else:
        return ""
    return rows.values_list("to_address", flat=True).first() or ""


def lift_provider_suppressions(*, address: str, esp_name: str) -> int:
    """The provider reactivated `address`: lift the suppressions its events made; return how many."""
    address = address.lower()
    provider_made = Suppression.objects.filter(channel=Channel.EMAIL, address=address).filter(
        Q(reason__in=PROVIDER_REASONS)
        | Q(reason=Suppression.Reason.UNSUBSCRIBED, detail__startswith="Unsubscribed through")
    )
    lifted, _ = provider_made.delete()
    if lifted:
        logger.info("%s reactivated %s: lifted %d suppression(s).", esp_name, address, lifted)
    return lifted


def handle_tracking_event(sender, event, esp_name, **kwargs) -> None:
    """Apply one anymail tracking event to its delivery."""
    if event.event_type == EventType.SUBSCRIBED and event.recipient:
        # Postmark's SubscriptionChange with SuppressSending false: the address was reactivated.
        lift_provider_suppressions(address=event.recipient, esp_name=esp_name)
        return
    if event.event_type == EventType.UNSUBSCRIBED:
        # The recipient unsubscribed at the provider (its own link or a List-Unsubscribe it handled).
        # Postmark's Type=Unsubscribe bounce may carry no address: the delivery it is about has one.
        address = event.recipient or _delivery_address(event)
        if address:
            suppress_address(
                channel=Channel.EMAIL,
                address=address,
                reason=Suppression.Reason.UNSUBSCRIBED,
                category="marketing",
                detail=f"Unsubscribed through {esp_name}.",
            )
        else:
            logger.warning("An unsubscribe from %s names no address and no known message; ignored.", esp_name)
        return
    status = STATUS_FOR.get(event.event_type)
    if status is None:
        return  # deferred, autoresponded, inbound...: nothing for the ledger
    metadata = event.metadata or {}
    delivery_id = metadata.get("delivery_id")
    soft = status == Status.BOUNCED and _is_soft(event)
    delivery = apply_provider_event(
        event=ProviderEvent(
            channel=Channel.EMAIL,
            status=status,
            delivery_id=int(delivery_id) if str(delivery_id or "").isdigit() else None,
            provider_message_id=event.message_id or "",
            occurred_at=event.timestamp,
            detail=" ".join(filter(None, [event.description, event.mta_response]))[:1000],
            error_code=event.reject_reason or "",
            soft=soft,
            suppress=event.reject_reason in ("invalid", "bounced"),
            address=(event.recipient or "").lower(),
        )
    )
    if (
        delivery is None
        and event.recipient
        and (status == Status.COMPLAINED or (status == Status.BOUNCED and not soft))
    ):
        # About a message we have no row for (Postmark's SubscriptionChange names no message of
        # ours, or the row was removed): the address must still stop receiving mail.
        reason = Suppression.Reason.COMPLAINED if status == Status.COMPLAINED else Suppression.Reason.BOUNCED
        suppress_address(
            channel=Channel.EMAIL, address=event.recipient, reason=reason, detail=f"Reported by {esp_name}."
        )


def connect() -> None:
    tracking.connect(handle_tracking_event, dispatch_uid="notifications.email_tracking")
