"""What the attention budget did, per day, for the staff's jobs page: holds, folds, expiries and
digests (each a DeliveryEvent with its reason, services/attention.py and services/digest.py)."""

import datetime as dt

from django.db.models import Case, CharField, Count, Q, Value, When
from django.db.models.functions import TruncDate

from .models import Delivery, DeliveryEvent

Status = Delivery.Status
# The budget's events, as DeliveryEvent's partial index `delivery_event_attention` names them: a
# query must use this very condition for PostgreSQL to read that index.
ATTENTION_EVENTS = (
    Q(detail__startswith="held_")
    | Q(detail__startswith="expired_quiet")
    | Q(status__in=[Status.FOLDED, Status.DIGESTED])
    | Q(detail__startswith="dropped_")
)
COLUMNS = ("held", "expired", "folded", "digested", "dropped")


def attention_counts(*, now: dt.datetime, days: int = 7) -> list[dict]:
    """[{day, held, expired, folded, digested, dropped}] for the last `days` days (days in the current
    time zone: the site's, or the one the page activated), newest first."""
    since = now - dt.timedelta(days=days)
    what = Case(
        When(detail__startswith="held_", then=Value("held")),
        When(detail__startswith="expired_quiet", then=Value("expired")),
        When(status=Status.FOLDED, then=Value("folded")),
        When(status=Status.DIGESTED, then=Value("digested")),
        default=Value("dropped"),
        output_field=CharField(),
    )
    rows = (
        DeliveryEvent.objects.filter(ATTENTION_EVENTS, at__gte=since)
        .annotate(day=TruncDate("at"), what=what)
        .values("day", "what")
        .annotate(n=Count("id"))
    )
    by_day: dict[dt.date, dict] = {}
    for row in rows:
        by_day.setdefault(row["day"], {"day": row["day"], **dict.fromkeys(COLUMNS, 0)})[row["what"]] += row["n"]
    return sorted(by_day.values(), key=lambda row: row["day"], reverse=True)
