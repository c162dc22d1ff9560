"""Writes other apps make on the ledger about their own subjects (a lead, a session...), through
`notifications.api`: they describe the messages, never query the ledger themselves."""

import datetime as dt
from collections.abc import Iterable

from ..models import Delivery
from .ledger import cancel_deliveries


def cancel_for_subject(
    *, subject_type: str, subject_id: int, kinds: Iterable[str], reason: str, now: dt.datetime | None = None
) -> int:
    """Cancel the messages of `kinds` about a subject that have not gone out yet (the domain no
    longer wants them: a lead converted); return how many."""
    return cancel_deliveries(
        deliveries=Delivery.objects.filter(
            event__subject_type=subject_type, event__subject_id=subject_id, event__kind__in=list(kinds)
        ),
        reason=reason,
        now=now,
    )
