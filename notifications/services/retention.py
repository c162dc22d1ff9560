"""
Retention: remove what the ledger no longer needs, in small batches, keeping per-day counts.

A delivery older than NOTIFICATIONS_RETENTION_DAYS whose life is over (sent, delivered, failed,
suppressed...) is folded into `DeliveryDailyCount` (per day, kind and channel; per subject too for
the subject types whose statistics need to know who got what, the lead campaigns') and deleted with
its history, in one short transaction per batch. Rows still pending, sending or unknown are never
removed, and neither are those of kinds whose event can be planned again while the domain still
wants it (a payment pending past its last reminder step: its row is what "already reminded" means).

Batches walk the primary key in windows (no index on the creation time is needed: ids grow with
it) and lock only the rows they delete, with SKIP LOCKED: planning inserts, and dispatch claims and
records rows that are pending or sending, which a batch never touches, so neither waits for it.
"""

import datetime as dt
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connections, router, transaction
from django.db.models import BigIntegerField, Case, Count, DecimalField, Exists, F, Min, OuterRef, Q, Sum, Value, When
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from ..conf import conf
from ..kinds import get_kind
from ..models import Delivery, DeliveryDailyCount, DeliveryEvent, MessageEvent, MessageGroup, Notification

logger = logging.getLogger(__name__)
Status = Delivery.Status

# Statuses a row never leaves by itself: kept, whatever their age.
LIVE = (Status.PENDING, Status.SENDING, Status.UNKNOWN, Status.HELD)
FINAL = tuple(status for status in Status.values if status not in LIVE)
# What each count of DeliveryDailyCount holds: the rows whose status is one of these (a row that
# was opened was also delivered and sent, as the campaign statistics count it).
COUNTED = {
    "sent": (Status.SENT, Status.DELIVERED, Status.OPENED, Status.CLICKED),
    "delivered": (Status.DELIVERED, Status.OPENED, Status.CLICKED),
    "opened": (Status.OPENED, Status.CLICKED),
    "clicked": (Status.CLICKED,),
    "bounced": (Status.BOUNCED,),
    "complained": (Status.COMPLAINED,),
    "failed": (Status.FAILED,),
    "suppressed": (Status.SUPPRESSED,),
    "expired": (Status.EXPIRED,),
    "cancelled": (Status.CANCELLED,),
}
COUNT_FIELDS = ("rows", *COUNTED)


@dataclass
class RetentionResult:
    """What a run removed, by table (and the deliveries it kept although old, by reason)."""

    outcomes: Counter = field(default_factory=Counter)

    @property
    def processed(self) -> int:
        return sum(count for name, count in self.outcomes.items() if not name.startswith("kept"))


def purge_old_deliveries(
    *, now: dt.datetime | None = None, dry_run: bool = False, max_seconds: float | None = None
) -> RetentionResult:
    """Fold finished deliveries older than the retention age into daily counts and delete them
    (with their history), batch by batch; return how many went (a dry run only counts them)."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=conf.retention_days)
    batch = conf.retention_batch_size
    result = RetentionResult()
    old = Delivery.objects.filter(created_at__lt=cutoff, status__in=FINAL)
    if dry_run:
        result.outcomes["deliveries"] = old.count()
        return result
    deadline = time.monotonic() + max_seconds if max_seconds else None
    start = Delivery.objects.order_by("id").values_list("id", flat=True).first()
    last_id = Delivery.objects.order_by("-id").values_list("id", flat=True).first()
    if start is None:
        return result
    while start <= last_id:
        if deadline is not None and time.monotonic() >= deadline:
            break
        window = Q(id__gte=start, id__lt=start + batch)
        deleted, events, kept = _purge_window(window=window, cutoff=cutoff)
        result.outcomes["deliveries"] += deleted
        result.outcomes["delivery_events"] += events
        result.outcomes["kept_still_wanted"] += kept
        start += batch
        # Ids grow with the time rows are made: once a whole window is younger than the cutoff,
        # so is everything after it.
        window_rows = Delivery.objects.filter(window)
        if not deleted and window_rows.exists() and not window_rows.filter(created_at__lt=cutoff).exists():
            break
    if deadline is None or time.monotonic() < deadline:
        result.outcomes["message_events"] = purge_unused_events(before=cutoff, deadline=deadline)
    return result


def purge_unused_events(*, before: dt.datetime, deadline: float | None = None) -> int:
    """Delete the events made before `before` that no delivery and no in-app notification names any
    more, with their stored contexts, a batch per short transaction; return how many events went."""
    batch = conf.retention_batch_size
    unused = MessageEvent.objects.filter(created_at__lt=before).filter(
        ~Exists(Delivery.objects.filter(event=OuterRef("pk"))),
        ~Exists(Notification.objects.filter(event=OuterRef("pk"))),  # an in-app row's key names it too
    )
    deleted, after = 0, 0
    while deadline is None or time.monotonic() < deadline:
        ids = list(unused.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:batch])
        if not ids:
            break
        after = ids[-1]
        with transaction.atomic():
            # Locked first, then asked again in a statement of its own: planning that found one of
            # them (its upsert locks the event) has committed its rows by then, and the question sees
            # them; planning that comes later waits for this transaction and makes the event anew.
            # (No foreign key would stop the delete: the ledger's rows have no constraint on it.)
            list(MessageEvent.objects.select_for_update().filter(pk__any=ids).values_list("pk", flat=True))
            ids = list(unused.filter(pk__any=ids).values_list("pk", flat=True))
            if not ids:
                continue
            MessageGroup.objects.filter(event_id__any=ids)._raw_delete(MessageGroup.objects.db)
            deleted += MessageEvent.objects.filter(pk__any=ids)._raw_delete(MessageEvent.objects.db)
    return deleted


@transaction.atomic
def _purge_window(*, window: Q, cutoff: dt.datetime) -> tuple[int, int, int]:
    """Fold and delete the finished rows of one id window older than `cutoff`; return (deliveries,
    events, rows kept because their kind still wants them)."""
    candidates = list(
        Delivery.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(window, created_at__lt=cutoff, status__in=FINAL)
        .values_list("id", "event__kind")
    )
    if not candidates:
        return 0, 0, 0
    keep = _still_wanted({pk for pk, kind in candidates if kind in conf.retention_keep_while_wanted})
    ids = [pk for pk, _ in candidates if pk not in keep]
    if not ids:
        return 0, 0, len(keep)
    _fold(ids)
    # One DELETE each, without loading the rows (Django's cascade would fetch every one first). A
    # table that comes to reference deliveries must be added here: its foreign key stops the purge.
    events = DeliveryEvent.objects.filter(delivery_id__in=ids)._raw_delete(DeliveryEvent.objects.db)
    deleted = Delivery.objects.filter(id__in=ids)._raw_delete(Delivery.objects.db)
    return deleted, events, len(keep)


def _still_wanted(ids: set[int]) -> set[int]:
    """Return the ids (of rows whose kind may plan the same message again while it is still wanted,
    NOTIFICATIONS_RETENTION_KEEP_WHILE_WANTED) that the kind's still_wanted hook still wants."""
    if not ids:
        return set()
    deliveries = list(
        Delivery.objects.filter(id__in=ids)
        .select_related("event")
        .only("id", "recipient_id", "event__kind", "event__subject_type", "event__subject_id", "event__key")
    )
    kept: set[int] = set()
    for kind_name in {d.kind for d in deliveries}:
        rows = [d for d in deliveries if d.kind == kind_name]
        hook = get_kind(kind_name).hook("still_wanted")
        if not hook:
            kept.update(d.pk for d in rows)  # nothing can tell: keep them
            continue
        unwanted = hook(rows)
        kept.update(d.pk for d in rows if d.pk not in unwanted)
    return kept


def _fold(ids: list[int]) -> None:
    """Add the rows `ids` (tests aside) to the daily counts, in the caller's transaction."""
    by_subject = list(conf.retention_count_by_subject)
    # Per subject only for the types whose statistics need it; the rest of a day counts together.
    subject = Case(
        When(event__subject_type__in=by_subject, then=Coalesce("event__subject_id", Value(0))),
        default=Value(0),
        output_field=BigIntegerField(),
    )
    rows = (
        Delivery.objects.filter(id__in=ids, is_test=False)
        .annotate(day=TruncDate("created_at", tzinfo=dt.UTC), subject=subject)
        .values("day", "channel", "subject", kind=F("event__kind"), subject_type=F("event__subject_type"))
        .annotate(
            rows=Count("id"),
            first_sent_at=Min("sent_at", filter=Q(status__in=COUNTED["sent"])),
            cost=Coalesce(Sum("cost"), Value(Decimal("0")), output_field=DecimalField()),
            **{name: Count("id", filter=Q(status__in=statuses)) for name, statuses in COUNTED.items()},
        )
        .order_by()
    )
    _add_counts(list(rows))


def _add_counts(rows: list[dict]) -> None:
    """Insert the counts, adding them to a day's existing ones (one statement per 500 counts)."""
    if not rows:
        return
    connection = connections[router.db_for_write(DeliveryDailyCount)]
    quote = connection.ops.quote_name
    table = quote(DeliveryDailyCount._meta.db_table)
    key = ("day", "kind", "channel", "subject_type", "subject_id")
    columns = (*key, *COUNT_FIELDS, "cost", "first_sent_at")
    adds = ", ".join(
        f"{quote(name)} = {table}.{quote(name)} + excluded.{quote(name)}" for name in (*COUNT_FIELDS, "cost")
    )
    first = quote("first_sent_at")
    earliest = (
        f"{first} = CASE WHEN {table}.{first} IS NULL OR excluded.{first} < {table}.{first}"
        f" THEN excluded.{first} ELSE {table}.{first} END"
    )
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        params = []
        for row in chunk:
            params += [
                connection.ops.adapt_datefield_value(row["day"]),
                row["kind"],
                row["channel"],
                row["subject_type"],
                row["subject"],
                *(row[name] for name in COUNT_FIELDS),
                connection.ops.adapt_decimalfield_value(row["cost"], 14, 4),
                connection.ops.adapt_datetimefield_value(row["first_sent_at"]),
            ]
        sql = (
            f"INSERT INTO {table} ({', '.join(quote(name) for name in columns)}) "
            f"VALUES {', '.join([placeholders] * len(chunk))} "
            f"ON CONFLICT ({', '.join(quote(name) for name in key)}) DO UPDATE SET {adds}, {earliest}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


def purge_rows(*, model, field_name: str, before: dt.datetime, max_seconds: float | None = None) -> int:
    """Delete `model` rows whose `field_name` is before `before`, a batch per short statement; return how many."""
    batch = conf.retention_batch_size
    deadline = time.monotonic() + max_seconds if max_seconds else None
    deleted = 0
    while deadline is None or time.monotonic() < deadline:
        ids = list(
            model._base_manager.filter(**{f"{field_name}__lt": before})
            .order_by("pk")
            .values_list("pk", flat=True)[:batch]
        )
        if not ids:
            break
        deleted += model._base_manager.filter(pk__in=ids).delete()[0]
    return deleted
