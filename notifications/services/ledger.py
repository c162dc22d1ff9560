"""Staff actions on the ledger: requeue, settle an unknown delivery, cancel."""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from ..models import Delivery, DeliveryEvent

Status = Delivery.Status
REQUEUEABLE = (Status.FAILED, Status.UNKNOWN, Status.EXPIRED, Status.CANCELLED)


@transaction.atomic
def requeue_deliveries(*, deliveries: QuerySet, by: str = "", now: datetime | None = None) -> int:
    """Put failed, unknown, expired or cancelled deliveries back in the queue; return how many."""
    now = now or timezone.now()
    ids = list(deliveries.filter(status__in=REQUEUEABLE).select_for_update().values_list("id", flat=True))
    Delivery.objects.filter(id__in=ids).update(
        status=Status.PENDING, next_attempt_at=now, expires_at=None, attempts=0, claim_token=None, updated_at=now
    )
    _log(ids, Status.PENDING, f"Requeued by {by or 'staff'}.", now)
    return len(ids)


@transaction.atomic
def settle_unknown_deliveries(*, deliveries: QuerySet, sent: bool, by: str = "", now: datetime | None = None) -> int:
    """Record what the provider says became of `unknown` deliveries (sent, or failed)."""
    now = now or timezone.now()
    ids = list(deliveries.filter(status=Status.UNKNOWN).select_for_update().values_list("id", flat=True))
    status = Status.SENT if sent else Status.FAILED
    Delivery.objects.filter(id__in=ids).update(status=status, updated_at=now, **({"sent_at": now} if sent else {}))
    _log(ids, status, f"Marked {status} by {by or 'staff'} after checking with the provider.", now)
    return len(ids)


@transaction.atomic
def cancel_deliveries(*, deliveries: QuerySet, reason: str, now: datetime | None = None) -> int:
    """Cancel deliveries that have not gone out yet (the domain no longer wants them)."""
    if not reason:
        raise ValidationError("Say why the deliveries are cancelled.")
    now = now or timezone.now()
    ids = list(
        deliveries.filter(status=Status.PENDING).select_for_update(skip_locked=True).values_list("id", flat=True)
    )
    Delivery.objects.filter(id__in=ids, status=Status.PENDING).update(status=Status.CANCELLED, updated_at=now)
    _log(ids, Status.CANCELLED, reason, now)
    return len(ids)


def _log(ids, status, detail, now) -> None:
    DeliveryEvent.objects.bulk_create(DeliveryEvent(delivery_id=pk, at=now, status=status, detail=detail) for pk in ids)
