"""What the attention budget did, per day, for the staff's jobs page and dashboard: holds, folds,
expiries and digests (each a DeliveryEvent with its reason, services/attention.py and
services/digest.py), each counted on its recipient's local calendar day (their time zone, as the
daily cap counts; the site's for people without an account or with a zone that cannot be read)."""

import datetime as dt
import zoneinfo

from django.conf import settings
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
# "held" counts every hold, "capped" those for the daily cap among them; "folded" are all for the cap.
COLUMNS = ("held", "capped", "expired", "folded", "digested", "dropped")


def _readable(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def attention_counts(*, now: dt.datetime, days: int = 7) -> list[dict]:
    """[{day, held, capped, expired, folded, digested, dropped}] for the last `days` days, newest first; each
    event on its recipient's local calendar day. One query per time zone the window's recipients
    live in (a handful), none per row."""
    since = now - dt.timedelta(days=days)
    events = DeliveryEvent.objects.filter(ATTENTION_EVENTS, at__gte=since)
    names = set(events.order_by().values_list("delivery__recipient__timezone", flat=True).distinct())
    site = settings.TIME_ZONE
    zones = {name for name in names if name and name != site and _readable(name)}
    by_day: dict[dt.date, dict] = {}
    for name in (site, *sorted(zones)):
        if name == site:  # the site's zone: its own, no account, no zone, or one that cannot be read
            scoped = events.exclude(delivery__recipient__timezone__in=zones)
        else:
            scoped = events.filter(delivery__recipient__timezone=name)
        _count(scoped, zoneinfo.ZoneInfo(name), by_day)
    return sorted(by_day.values(), key=lambda row: row["day"], reverse=True)


def _count(events, zone: zoneinfo.ZoneInfo, by_day: dict) -> None:
    """Add `events`' counts by kind, on days in `zone`, to `by_day`."""
    what = Case(
        When(detail__startswith="held_daily_cap", then=Value("capped")),
        When(detail__startswith="held_", then=Value("held")),
        When(detail__startswith="expired_quiet", then=Value("expired")),
        When(status=Status.FOLDED, then=Value("folded")),
        When(status=Status.DIGESTED, then=Value("digested")),
        default=Value("dropped"),
        output_field=CharField(),
    )
    rows = events.annotate(day=TruncDate("at", tzinfo=zone), what=what).values("day", "what").annotate(n=Count("id"))
    for row in rows.order_by():
        counts = by_day.setdefault(row["day"], {"day": row["day"], **dict.fromkeys(COLUMNS, 0)})
        counts[row["what"]] += row["n"]
        if row["what"] == "capped":  # a hold all the same
            counts["held"] += row["n"]
