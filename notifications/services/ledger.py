"""Writes on the ledger: staff actions (requeue, settle an unknown delivery, cancel) and the
dispatcher's record of what became of the rows it claimed."""

import datetime as dt
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connections, router, transaction
from django.db.models import QuerySet
from django.utils import timezone

from common.db import insert_ignoring_conflicts

from ..models import Delivery, DeliveryEvent

Status = Delivery.Status
REQUEUEABLE = (Status.FAILED, Status.UNKNOWN, Status.EXPIRED, Status.CANCELLED)
# A requeued message has this long to go out (its own expiry, over its group's, which may be past).
REQUEUED_FOR = dt.timedelta(days=1)


@transaction.atomic
def requeue_deliveries(*, deliveries: QuerySet, by: str = "", now: datetime | None = None) -> int:
    """Put failed, unknown, expired or cancelled deliveries back in the queue; return how many."""
    now = now or timezone.now()
    ids = list(deliveries.filter(status__in=REQUEUEABLE).select_for_update().values_list("id", flat=True))
    Delivery.objects.filter(id__in=ids).update(
        status=Status.PENDING,
        next_attempt_at=now,
        expires_at=now + REQUEUED_FOR,
        attempts=0,
        claim_token=None,
        updated_at=now,
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
    """Cancel deliveries that have not gone out yet, pending or held by staff (the domain no longer wants them)."""
    if not reason:
        raise ValidationError("Say why the deliveries are cancelled.")
    now = now or timezone.now()
    waiting = (Status.PENDING, Status.HELD)
    ids = list(deliveries.filter(status__in=waiting).select_for_update(skip_locked=True).values_list("id", flat=True))
    Delivery.objects.filter(id__in=ids, status__in=waiting).update(status=Status.CANCELLED, updated_at=now)
    _log(ids, Status.CANCELLED, reason, now)
    return len(ids)


def _log(ids, status, detail, now) -> None:
    DeliveryEvent.objects.bulk_create(DeliveryEvent(delivery_id=pk, at=now, status=status, detail=detail) for pk in ids)


@dataclass(frozen=True)
class ClaimOutcome:
    """What became of one claimed row, to be written only while it is still `sending` under its claim."""

    delivery_id: int
    claim_token: uuid.UUID
    status: str
    detail: str  # the history entry
    # Written when given; None leaves the column as it is.
    provider_message_id: str | None = None
    error_code: str | None = None
    last_error: str | None = None
    rendered_subject: str | None = None
    rendered_text: str | None = None
    template_version_id: int | None = None
    sent_at: datetime | None = None
    next_attempt_at: datetime | None = None
    attempts: int | None = None  # given back when the attempt did not count (a paused channel)
    whatsapp_category: str | None = None  # a sent WhatsApp message's pricing category
    cost: Decimal | None = None  # and its estimated cost (INR)
    at: datetime | None = None  # when it happened (the history entry's time); the recording time if None


# The outcome's columns, in order, with their PostgreSQL types.
_OUTCOME_COLUMNS = (
    ("delivery_id", "bigint"),
    ("claim_token", "uuid"),
    ("status", "text"),
    ("provider_message_id", "text"),
    ("error_code", "text"),
    ("last_error", "text"),
    ("rendered_subject", "text"),
    ("rendered_text", "text"),
    ("template_version_id", "bigint"),
    ("sent_at", "timestamptz"),
    ("next_attempt_at", "timestamptz"),
    ("attempts", "integer"),
    ("whatsapp_category", "text"),
    ("cost", "numeric"),
)
_KEPT_UNLESS_GIVEN = _OUTCOME_COLUMNS[3:]
_ROWS_PER_STATEMENT = 500


def record_claim_outcomes(*, outcomes: list[ClaimOutcome], now: datetime) -> set[int]:
    """Record send outcomes, with their history, on the rows still `sending` under the same claim;
    return the ids recorded (a row settled meanwhile by someone else keeps their result).

    A worker's definite answer (`sent`, with the provider's id) also wins over `unknown` and over a
    reconciliation's "not at the provider" (`pending`, not yet claimed again) of the same claim: the
    worker knows; they only guessed. It never wins over the provider's own later word that this very
    message failed (a webhook that overtook the answer left the row `pending` with that message's id).

    One UPDATE ... FROM (VALUES ...) and one insert of events for many rows: recording a batch
    costs two statements, not two per message.
    """
    if not outcomes:
        return set()
    connection = connections[router.db_for_write(Delivery)]
    recorded: set[int] = set()
    with transaction.atomic(using=connection.alias):
        for start in range(0, len(outcomes), _ROWS_PER_STATEMENT):
            recorded |= _update_claimed(connection, outcomes[start : start + _ROWS_PER_STATEMENT], now)
        insert_ignoring_conflicts(
            DeliveryEvent,
            [
                {"delivery_id": o.delivery_id, "at": o.at or now, "status": o.status, "detail": o.detail[:2000]}
                for o in outcomes
                if o.delivery_id in recorded
            ],
        )
    return recorded


def _update_claimed(connection, outcomes: list[ClaimOutcome], now: datetime) -> set[int]:
    quote = connection.ops.quote_name
    table = quote(Delivery._meta.db_table)
    column = {name: f"v.column{position}" for position, (name, _) in enumerate(_OUTCOME_COLUMNS, 1)}
    assignments = [f"{quote('status')} = {column['status']}", f"{quote('updated_at')} = %s"]
    assignments += [f"{quote(name)} = COALESCE({column[name]}, {quote(name)})" for name, _ in _KEPT_UNLESS_GIVEN]
    pid = quote("provider_message_id")
    token_field = Delivery._meta.get_field("claim_token")
    adapt_time = connection.ops.adapt_datetimefield_value
    rows = [
        (
            outcome.delivery_id,
            token_field.get_db_prep_value(outcome.claim_token, connection),
            outcome.status,
            outcome.provider_message_id,
            outcome.error_code,
            outcome.last_error,
            outcome.rendered_subject,
            outcome.rendered_text,
            outcome.template_version_id,
            adapt_time(outcome.sent_at) if outcome.sent_at else None,
            adapt_time(outcome.next_attempt_at) if outcome.next_attempt_at else None,
            outcome.attempts,
            outcome.whatsapp_category,
            str(outcome.cost) if outcome.cost is not None else None,
        )
        for outcome in outcomes
    ]
    if connection.vendor == "postgresql":
        # One array a column (unnest): 14 parameters, not 14 a row, each of which the driver would
        # quote into the statement on its own. Cast, since a column of NULLs would otherwise be text.
        arrays = ", ".join(f"CAST(%s AS {sql_type}[])" for _, sql_type in _OUTCOME_COLUMNS)
        names = ", ".join(f"column{position}" for position in range(1, len(_OUTCOME_COLUMNS) + 1))
        source, values = f"unnest({arrays}) AS v({names})", [list(values) for values in zip(*rows, strict=True)]
    else:
        row_sql = "(" + ", ".join(["%s"] * len(_OUTCOME_COLUMNS)) + ")"
        source, values = f"(VALUES {', '.join([row_sql] * len(rows))}) AS v", [value for row in rows for value in row]
    sql = (
        f"UPDATE {table} SET {', '.join(assignments)} FROM {source} "
        f"WHERE {table}.{quote('id')} = {column['delivery_id']} "
        f"AND {table}.{quote('claim_token')} = {column['claim_token']} AND ({table}.{quote('status')} = %s "
        f"OR ({column['status']} = %s AND {table}.{quote('status')} IN (%s, %s) "
        f"AND ({table}.{pid} = '' OR {table}.{pid} <> COALESCE({column['provider_message_id']}, '')))) "
        f"RETURNING {quote('id')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [adapt_time(now), *values, Status.SENDING, Status.SENT, Status.UNKNOWN, Status.PENDING])
        return {row[0] for row in cursor.fetchall()}
