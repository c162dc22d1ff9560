"""anymail's tracking webhooks (/anymail/<esp>/tracking/) into provider events on the ledger."""

from anymail.signals import EventType, tracking

from ..models import Channel, Delivery, Suppression
from ..services.dispatch import suppress_address
from ..services.feedback import ProviderEvent, apply_provider_event

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
SOFT_TYPES = {"SoftBounce", "Transient", "DnsError"}


def _is_soft(event) -> bool:
    esp = event.esp_event if isinstance(event.esp_event, dict) else {}
    if esp.get("Type") in SOFT_TYPES or esp.get("bounceType") == "Transient":
        return True
    return (event.mta_response or "").strip()[:1] == "4"


def handle_tracking_event(sender, event, esp_name, **kwargs) -> None:
    """Apply one anymail tracking event to its delivery."""
    if event.event_type == EventType.UNSUBSCRIBED and event.recipient:
        # The recipient unsubscribed at the provider (its own link or a List-Unsubscribe it handled).
        suppress_address(
            channel=Channel.EMAIL,
            address=event.recipient,
            reason=Suppression.Reason.UNSUBSCRIBED,
            category="marketing",
            detail=f"Unsubscribed through {esp_name}.",
        )
        return
    status = STATUS_FOR.get(event.event_type)
    if status is None:
        return  # deferred, autoresponded, inbound...: nothing for the ledger
    metadata = event.metadata or {}
    delivery_id = metadata.get("delivery_id")
    apply_provider_event(
        event=ProviderEvent(
            channel=Channel.EMAIL,
            status=status,
            delivery_id=int(delivery_id) if str(delivery_id or "").isdigit() else None,
            provider_message_id=event.message_id or "",
            occurred_at=event.timestamp,
            detail=" ".join(filter(None, [event.description, event.mta_response]))[:1000],
            error_code=event.reject_reason or "",
            soft=status == Status.BOUNCED and _is_soft(event),
            suppress=event.reject_reason in ("invalid", "bounced"),
            address=(event.recipient or "").lower(),
        )
    )


def connect() -> None:
    tracking.connect(handle_tracking_event, dispatch_uid="notifications.email_tracking")
