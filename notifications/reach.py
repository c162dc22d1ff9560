"""
Who a subject's messages reached, and by when: the provider's receipt (email delivered, WhatsApp
delivered or read), and for in-app only a notification the person saw. Read by the owning app's
figures (lms: a session's reminders reached each student at least 10 minutes before the start).
"""

import datetime as dt
from collections.abc import Iterable

from django.db.models import Q

from .kinds import INAPP
from .models import Delivery, Notification

Status = Delivery.Status
RECEIPTS = (Status.DELIVERED, Status.OPENED, Status.CLICKED)


def recipients_reached(*, kinds: Iterable[str], event_key: str, before: dt.datetime) -> dict[str, set[int]]:
    """{channel (and "inapp"): the accounts a message of `kinds` about the event `event_key` reached
    by `before`}; under "reachable", the accounts with an email or WhatsApp message that was not suppressed."""
    keys = [f"{kind}:{event_key}" for kind in kinds]
    rows = Delivery.objects.filter(event__key__in=keys, recipient_id__isnull=False, is_test=False)
    in_time = Q(delivered_at__lte=before) | Q(opened_at__lte=before) | Q(clicked_at__lte=before)
    reached: dict[str, set[int]] = {}
    for channel, recipient in rows.filter(in_time, status__in=RECEIPTS).values_list("channel", "recipient_id"):
        reached.setdefault(channel, set()).add(recipient)
    seen = Notification.objects.filter(event__key__in=keys, read_at__lte=before)
    reached[INAPP] = set(seen.values_list("user_id", flat=True))
    reached["reachable"] = set(rows.exclude(status=Status.SUPPRESSED).values_list("recipient_id", flat=True).distinct())
    return reached
