"""
The staff console's reads of the ledger: figures per day (by kind and channel) and what waits to go.

A day is the UTC day a message was planned (its row's `created_at`), the day retention files a
removed row under (`DeliveryDailyCount.day`). A row is in the ledger or in the daily counts, never
both, so every figure adds the two: a 90-day chart stays right after old rows are purged.

The counts nest as retention's do: a message opened was also delivered and sent, so "sent" holds
every message the provider took (sent, delivered, opened, clicked), "delivered" those delivered
or read further, "opened" those opened or clicked. Test sends are left out, as retention leaves
them out of its counts.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import CharField, Count, DecimalField, Exists, F, Min, OuterRef, Q, Sum, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce, NullIf, TruncDate

from common.languages import DEFAULT_LANGUAGE

from .models import Delivery, DeliveryDailyCount, SubjectHold

Status = Delivery.Status

# The figures of a day, and the live rows' statuses each counts (the purged counts' own columns hold the same).
FIGURES = ("planned", "sent", "delivered", "opened", "clicked", "failed", "bounced", "unknown")
LIVE_COUNTED = {
    "sent": (Status.SENT, Status.DELIVERED, Status.OPENED, Status.CLICKED),
    "delivered": (Status.DELIVERED, Status.OPENED, Status.CLICKED),
    "opened": (Status.OPENED, Status.CLICKED),
    "clicked": (Status.CLICKED,),
    "failed": (Status.FAILED,),
    "bounced": (Status.BOUNCED, Status.COMPLAINED),
    "unknown": (Status.UNKNOWN,),
}
# Purged rows: planned is every row removed; unknown rows are never removed.
PURGED_SUMS = {
    "planned": Sum("rows"),
    "sent": Sum("sent"),
    "delivered": Sum("delivered"),
    "opened": Sum("opened"),
    "clicked": Sum("clicked"),
    "failed": Sum("failed"),
    "bounced": Sum("bounced") + Sum("complained"),
}


@dataclass
class DayFigures:
    """One day's figures for one kind on one channel (or a total)."""

    day: dt.date
    kind: str
    channel: str
    counts: dict = field(default_factory=lambda: dict.fromkeys(FIGURES, 0))
    cost: Decimal = Decimal("0")


def daily_delivery_figures(
    *, since: dt.date, until: dt.date, subject_type: str = "", subject_ids=None, kinds=None
) -> list[DayFigures]:
    """Return the figures per (day, kind, channel) of the messages planned from `since` to `until`
    (UTC days, both included), live rows and purged counts added; optionally only those about some
    subjects (`subject_type` and a list or query of `subject_ids`) or of some `kinds`."""
    start = dt.datetime.combine(since, dt.time.min, tzinfo=dt.UTC)
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
    live = Delivery.objects.filter(created_at__gte=start, created_at__lt=end, is_test=False)
    purged = DeliveryDailyCount.objects.filter(day__gte=since, day__lte=until)
    if subject_type:
        live = live.filter(event__subject_type=subject_type)
        purged = purged.filter(subject_type=subject_type)
    if subject_ids is not None:
        live = live.filter(event__subject_id__in=subject_ids)
        purged = purged.filter(subject_id__in=subject_ids)
    if kinds is not None:
        live = live.filter(event__kind__in=list(kinds))
        purged = purged.filter(kind__in=list(kinds))
    figures: dict[tuple, DayFigures] = {}

    def into(day, kind, channel) -> DayFigures:
        return figures.setdefault((day, kind, channel), DayFigures(day, kind, channel))

    money = DecimalField(max_digits=14, decimal_places=4)
    for row in (
        live.annotate(day=TruncDate("created_at", tzinfo=dt.UTC))
        .values("day", "channel", kind=F("event__kind"))
        .annotate(
            planned=Count("id"),
            cost_sum=Coalesce(Sum("cost"), Value(Decimal("0")), output_field=money),
            **{name: Count("id", filter=Q(status__in=statuses)) for name, statuses in LIVE_COUNTED.items()},
        )
        .order_by()
    ):
        item = into(row["day"], row["kind"], row["channel"])
        for name in FIGURES:
            item.counts[name] += row[name]
        item.cost += row["cost_sum"]
    for row in (
        purged.values("day", "kind", "channel")
        .annotate(cost_sum=Coalesce(Sum("cost"), Value(Decimal("0")), output_field=money), **PURGED_SUMS)
        .order_by()
    ):
        item = into(row["day"], row["kind"], row["channel"])
        for name in PURGED_SUMS:
            item.counts[name] += row[name] or 0
        item.cost += row["cost_sum"]
    return sorted(figures.values(), key=lambda item: (item.day, item.kind, item.channel))


def figures_by(rows: list[DayFigures], *, key: str, since: dt.date, until: dt.date) -> dict[str, list[DayFigures]]:
    """Add up `rows` per day for each value of `key` ("kind", "channel", or "" for one total):
    {value: [a DayFigures per day, every day of the period, zeros included]}."""
    days = [since + dt.timedelta(days=n) for n in range((until - since).days + 1)]
    series: dict[str, dict[dt.date, DayFigures]] = defaultdict(dict)
    for row in rows:
        name = getattr(row, key) if key else ""
        item = series[name].setdefault(row.day, DayFigures(row.day, row.kind if key == "kind" else "", row.channel))
        for figure in FIGURES:
            item.counts[figure] += row.counts[figure]
        item.cost += row.cost
    return {
        name: [by_day.get(day) or DayFigures(day, name if key == "kind" else "", name) for day in days]
        for name, by_day in sorted(series.items())
    }


def waiting_deliveries(*, until: dt.datetime, limit: int = 2000) -> list[dict]:
    """Return the messages planned and not gone yet (pending and due before `until`, or held), per
    (event, channel, status, language): how many, and the earliest due time, soonest first."""
    language = Coalesce(
        NullIf(F("recipient__language"), Value("")),
        KT("own_context__language"),
        Value(DEFAULT_LANGUAGE),
        output_field=CharField(),
    )
    return list(
        Delivery.objects.filter(Q(status=Status.PENDING, next_attempt_at__lt=until) | Q(status=Status.HELD))
        .values(
            "event_id",
            "channel",
            "status",
            kind=F("event__kind"),
            key=F("event__key"),
            subject_type=F("event__subject_type"),
            subject_id=F("event__subject_id"),
            held_at=F("event__held_at"),
            subject_held=Exists(
                SubjectHold.objects.filter(
                    subject_type=OuterRef("event__subject_type"), subject_id=OuterRef("event__subject_id")
                )
            ),
            language=language,
        )
        .annotate(count=Count("id"), first_due=Min("next_attempt_at"))
        .order_by("first_due", "key", "channel")[:limit]
    )


def subjects_on_hold(subjects) -> set[tuple[str, int]]:
    """Return which of `subjects` ((type, id) pairs) staff hold (every message about them waits)."""
    subjects = set(subjects)
    if not subjects:
        return set()
    held = SubjectHold.objects.filter(
        subject_type__in={kind for kind, _ in subjects}, subject_id__in={pk for _, pk in subjects}
    ).values_list("subject_type", "subject_id")
    return set(held) & subjects
