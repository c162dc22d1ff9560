"""What the metrics endpoint and the health endpoint read about dispatch: the backlog by priority
and channel, the rows by status that need no full scan, the paused channels, and every worker's
outcome counters (ratelimit.py)."""

import datetime as dt

from django.db.models import Count

from ...models import ChannelPause, Delivery
from .ratelimit import outcome_totals

Status = Delivery.Status


def backlog(*, now: dt.datetime) -> list[dict]:
    """Due deliveries by priority and channel: [{"priority", "channel", "count"}] (an index holds them)."""
    return list(
        Delivery.objects.filter(status=Status.PENDING, next_attempt_at__lte=now)
        .values("priority", "channel")
        .annotate(count=Count("id"))
        .order_by("priority", "channel")
    )


def in_flight_and_unknown() -> list[dict]:
    """Deliveries `sending` or `unknown`, by channel and status (partial indexes hold both)."""
    return list(
        Delivery.objects.filter(status__in=[Status.SENDING, Status.UNKNOWN])
        .values("channel", "status")
        .annotate(count=Count("id"))
        .order_by("channel", "status")
    )


def paused_channels() -> list[str]:
    """The channels whose provider account cannot send now (their messages wait)."""
    return list(ChannelPause.objects.order_by("channel").values_list("channel", flat=True))


def dispatch_totals() -> dict[tuple[str, str], int]:
    """Every worker's dispatch outcomes since the counters began, by (channel, status)."""
    return outcome_totals()
