"""Reads of the ledger shared by jobs, commands, health checks and the admin."""

import datetime as dt

from django.db.models import Count, Min

from .models import Delivery

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
        rows.values("kind", "channel", "status").annotate(count=Count("id")).order_by("kind", "channel", "status")
    )
