"""
The attention budget: when a message may reach its recipient, and how many a day.

Asked by dispatch for the rows of each claim (claim.py), so a held message is still one row: it goes
back to `pending` with a later `next_attempt_at`, and the dedupe and catch-up guarantees stay as
they are. Two queries per claim (the claimed accounts' own settings, and what they were sent today),
none per row.

- Urgency (kinds.py): *critical* (starting soon, account and security, anything whose moment is
  within the hour) is never held or capped; *normal* waits out the recipient's quiet hours and, past
  the day's cap, is folded into their digest; *low* (marketing) goes only inside the marketing window
  (NOTIFICATIONS_MARKETING_HOURS, 10:00-21:00 local) and outside quiet hours, and past the cap waits
  for the next day (offers are not digest material).
- Quiet hours: the student's own (AttentionPreference), else NOTIFICATIONS_QUIET_HOURS (21:00-08:00),
  in their time zone; people without an account (leads) in the site's TIME_ZONE.
- A message whose moment (its expiry: the class, the deadline) would come before its wait ends follows
  its kind's `when_moment_passes`: LATEST (every shipped kind with a moment: session_24h, session_moved,
  assignment_due) goes an hour before the moment, when it is critical; EXPIRE is not sent.
  Kinds without a moment (recording_available, payment_reminder, the lead drips) simply wait.
- The daily cap (NOTIFICATIONS_DAILY_CAP, 3) counts the non-critical events an account was sent in
  its local calendar day (an event's email and WhatsApp count once).

Every hold, fold and expiry is written on the row's history (DeliveryEvent) with its reason.
"""

import datetime as dt
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.db.models import F

from ..conf import conf
from ..kinds import CRITICAL, EXPIRE, LOW, all_kinds, get_kind
from ..models import AttentionPreference, Delivery, DeliveryEvent

Status = Delivery.Status
# A message whose moment is this close is critical; LATEST sends this long before the moment.
WITHIN_THE_HOUR = dt.timedelta(hours=1)

REASONS = {
    "held_quiet_hours": "Held: the recipient's quiet hours ({span}); goes at {until}.",
    "held_marketing_window": "Held: marketing goes only between {span} local; goes at {until}.",
    "held_before_moment": "Held: quiet hours ({span}) end after its moment; goes an hour before it, at {until}.",
    "held_daily_cap": "Held: the daily cap of {cap} messages is reached; goes at {until}.",
    "expired_quiet_hours": "Expired: its moment passes before the recipient's quiet hours ({span}) end.",
    "folded_daily_cap": "Folded into the digest: the daily cap of {cap} messages is reached.",
}


@dataclass(frozen=True)
class Budget:
    """One recipient's attention settings, read in their zone."""

    zone: zoneinfo.ZoneInfo
    quiet: tuple  # (start, end) times of day, or () for none
    digest_hour: int


@dataclass(frozen=True)
class Decision:
    action: str  # "hold", "fold" or "expire"
    reason: str  # a key of REASONS
    until: dt.datetime | None = None
    span: str = ""


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def budget_of(user, preference: AttentionPreference | None) -> Budget:
    """The attention settings of `user` (None: someone without an account) given their own row."""
    quiet = conf.quiet_hours
    digest_hour = conf.digest_hour
    if preference is not None:
        if preference.quiet_start is not None and preference.quiet_end is not None:
            quiet = (preference.quiet_start, preference.quiet_end)
        if preference.digest_hour is not None:
            digest_hour = preference.digest_hour
    return Budget(zone=_zone(getattr(user, "timezone", "")), quiet=quiet, digest_hour=digest_hour)


def budgets_for(users: dict) -> dict:
    """{user id: Budget} for the accounts `users` ({id: user}), in one query."""
    if not users:
        return {}
    own = AttentionPreference.objects.in_bulk(list(users))
    return {pk: budget_of(user, own.get(pk)) for pk, user in users.items()}


def inside(span: tuple, moment: dt.time) -> bool:
    """Is the time of day `moment` inside `span` (start, end), which may cross midnight?"""
    if not span:
        return False
    start, end = span
    return start <= moment < end if start < end else moment >= start or moment < end


def next_at(local: dt.datetime, clock: dt.time) -> dt.datetime:
    """The next moment after `local` whose local time of day is `clock` (in `local`'s zone), in UTC."""
    candidate = dt.datetime.combine(local.date(), clock, tzinfo=local.tzinfo)
    if candidate <= local:
        candidate = dt.datetime.combine(local.date() + dt.timedelta(days=1), clock, tzinfo=local.tzinfo)
    return candidate.astimezone(dt.UTC)


def allowed_from(budget: Budget, urgency: str, now: dt.datetime) -> tuple[dt.datetime | None, str]:
    """When a message of `urgency` may go to this recipient: (None, "") for now, else the time and why."""
    at, reason = now, ""
    for _ in range(3):  # the quiet hours and the marketing window, each moving the other at most once
        local = at.astimezone(budget.zone)
        if inside(budget.quiet, local.time()):
            at, reason = next_at(local, budget.quiet[1]), reason or "held_quiet_hours"
        elif urgency == LOW and conf.marketing_hours and not inside(conf.marketing_hours, local.time()):
            at, reason = next_at(local, conf.marketing_hours[0]), reason or "held_marketing_window"
        else:
            break
    return (None, "") if at == now else (at, reason)


def urgency_of(delivery: Delivery, now: dt.datetime) -> str:
    """The row's urgency now: its kind's, or critical when its moment is within the hour."""
    expiry = delivery.expiry
    if expiry is not None and expiry - now <= WITHIN_THE_HOUR:
        return CRITICAL
    return get_kind(delivery.kind).urgency_class


def local_midnight(budget: Budget, now: dt.datetime) -> dt.datetime:
    local = now.astimezone(budget.zone)
    return dt.datetime.combine(local.date(), dt.time(), tzinfo=budget.zone).astimezone(dt.UTC)


def sent_today(budgets: dict, now: dt.datetime) -> dict[int, set[int]]:
    """{user id: ids of the non-critical events handed to a provider for them since their local
    midnight}, in one query."""
    if not budgets or not conf.daily_cap:
        return {}
    starts = {pk: local_midnight(budget, now) for pk, budget in budgets.items()}
    critical = [kind.name for kind in all_kinds() if kind.urgency_class == CRITICAL]
    rows = (
        Delivery.objects.filter(recipient_id__in=list(budgets), handed_over_at__gte=min(starts.values()))
        .exclude(event__kind__in=critical)
        .values_list("recipient_id", "event_id", "handed_over_at")
    )
    events = defaultdict(set)
    for user_id, event_id, handed_over_at in rows:
        if handed_over_at >= starts[user_id]:
            events[user_id].add(event_id)
    return events


def decide(rows: list[Delivery], *, now: dt.datetime) -> dict[int, Decision]:
    """Return, for the claimed rows that must not go now, what becomes of them (in claim order, so
    the urgent rows of a claim are the ones the cap lets through)."""
    users = {row.recipient_id: row.recipient for row in rows if row.recipient_id is not None}
    budgets = budgets_for(users)
    anonymous = budget_of(None, None)
    counted = sent_today(budgets, now)
    folded: dict[int, set[int]] = defaultdict(set)
    decisions: dict[int, Decision] = {}
    for row in rows:
        urgency = urgency_of(row, now)
        if urgency == CRITICAL:
            continue
        budget = budgets.get(row.recipient_id, anonymous)
        span = _span(budget.quiet)
        until, reason = allowed_from(budget, urgency, now)
        if until is not None:
            decisions[row.pk] = _held(row, until, reason, span if reason == "held_quiet_hours" else _span(), now)
            continue
        if row.recipient_id is None or not conf.daily_cap:
            continue
        today, events = counted.setdefault(row.recipient_id, set()), folded[row.recipient_id]
        if row.event_id in today:  # another channel of an event already sent today
            continue
        if row.event_id in events or len(today) >= conf.daily_cap:
            events.add(row.event_id)
            if urgency == LOW:  # offers wait for tomorrow's window rather than fill a digest
                tomorrow = local_midnight(budget, now + dt.timedelta(days=1))
                until, _ = allowed_from(budget, urgency, tomorrow)
                decisions[row.pk] = Decision("hold", "held_daily_cap", until or tomorrow)
            else:
                decisions[row.pk] = Decision("fold", "folded_daily_cap")
            continue
        today.add(row.event_id)
    return decisions


def _span(span: tuple | None = None) -> str:
    span = conf.marketing_hours if span is None else span
    return f"{span[0]:%H:%M}-{span[1]:%H:%M}" if span else ""


def _held(row: Delivery, until: dt.datetime, reason: str, span: str, now: dt.datetime) -> Decision:
    """Hold `row` until `until`, unless its moment comes first: then its kind's rule."""
    moment = row.expiry
    if moment is None or until < moment - WITHIN_THE_HOUR:
        return Decision("hold", reason, until, span)
    if get_kind(row.kind).when_moment_passes == EXPIRE:
        return Decision("expire", "expired_quiet_hours", None, span)
    return Decision("hold", "held_before_moment", max(now, moment - WITHIN_THE_HOUR), span)


def apply_attention_budget(rows: list[Delivery], *, now: dt.datetime) -> list[Delivery]:
    """Hold, fold or expire the claimed `rows` that must not go now (each with its history); return
    the others. The rows are this worker's claim (`sending` under its token) and were never handed over."""
    decisions = decide(rows, now=now)
    if not decisions:
        return rows
    changed = [row for row in rows if row.pk in decisions]
    by_until = defaultdict(list)
    for row in changed:
        decision = decisions[row.pk]
        by_until[(decision.action, decision.until)].append(row.pk)
    for (action, until), ids in by_until.items():
        claimed = Delivery.objects.filter(id__in=ids, status=Status.SENDING, handed_over_at__isnull=True)
        if action == "hold":  # back in the queue, due when the wait ends; the claim cost no attempt
            claimed.update(
                status=Status.PENDING,
                next_attempt_at=until,
                claim_token=None,
                attempts=F("attempts") - 1,
                updated_at=now,
            )
        else:
            status = Status.FOLDED if action == "fold" else Status.EXPIRED
            claimed.update(status=status, claim_token=None, attempts=F("attempts") - 1, updated_at=now)
    DeliveryEvent.objects.bulk_create([_history(row, decisions[row.pk], now) for row in changed])
    return [row for row in rows if row.pk not in decisions]


def _history(row: Delivery, decision: Decision, now: dt.datetime) -> DeliveryEvent:
    status = {"hold": Status.PENDING, "fold": Status.FOLDED, "expire": Status.EXPIRED}[decision.action]
    until = f"{decision.until:%Y-%m-%d %H:%M} UTC" if decision.until else ""
    detail = REASONS[decision.reason].format(span=decision.span, until=until, cap=conf.daily_cap)
    return DeliveryEvent(delivery_id=row.pk, at=now, status=status, detail=f"{decision.reason}: {detail}")
