"""One-click unsubscribe (RFC 8058) from marketing email."""

from dataclasses import dataclass

from django.core import signing

from ..kinds import get_kind
from ..models import Category, Delivery, DeliveryEvent, Suppression
from ..tokens import read_unsubscribe_token


@dataclass(frozen=True)
class UnsubscribeTarget:
    address: str
    channel: str
    category: str
    delivery_id: int


def resolve_unsubscribe_token(*, token: str) -> UnsubscribeTarget:
    """Return who a token unsubscribes; raise signing.BadSignature when it is forged or expired."""
    delivery_id = read_unsubscribe_token(token)
    delivery = (
        Delivery.objects.filter(pk=delivery_id)
        .select_related("event")
        .only("to_address", "channel", "event__kind")
        .first()
    )
    if delivery is None:
        raise signing.BadSignature("The message this link belongs to no longer exists.")
    kind = get_kind(delivery.kind)
    category = Category.MARKETING if kind.is_marketing else kind.category
    return UnsubscribeTarget(delivery.to_address, delivery.channel, category, delivery.pk)


def unsubscribe(*, target: UnsubscribeTarget, source: str = "link") -> Suppression:
    """Stop marketing messages to the target's address; safe to repeat."""
    suppression, created = Suppression.objects.get_or_create(
        channel=target.channel,
        address=target.address,
        category=target.category,
        defaults={"reason": Suppression.Reason.UNSUBSCRIBED, "detail": f"Unsubscribed by {source}."},
    )
    if created:
        DeliveryEvent.objects.create(
            delivery_id=target.delivery_id, status=Delivery.Status.SENT, detail=f"Recipient unsubscribed ({source})."
        )
    return suppression
