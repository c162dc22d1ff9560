"""Reads of the ledger shared by jobs, commands, health checks and the admin."""

import datetime as dt

from django.db.models import Count, F, Min, Q

from .models import Delivery, InboundMessage, Suppression, WhatsAppConsent

Status = Delivery.Status


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
