"""
The digest: the messages folded past a student's daily cap (services/attention.py), summed up once a
day at their chosen hour, in their language, by email and in-app: "2 new recordings, 1 assignment
due, 1 payment pending", each item linking to its page.

Run every quarter hour (automation's `attention_digests` job). An account whose local hour is its
digest hour gets one digest a local day (its event is named for the day). Before summing up, items
drop out that are no longer wanted (the kind's still_wanted hook: the assignment was submitted, the
payment paid) or were already read in-app; each folded row ends `digested` or `cancelled`, with the
reason on its history.
"""

import datetime as dt
from collections import Counter, defaultdict

from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext

from common.formatting import format_day_month, format_weekday, reader_locale

from ..kinds import get_kind
from ..languages import DEFAULT_LANGUAGE
from ..markers import render_relative_times
from ..models import Delivery, DeliveryEvent, MessageEvent, Notification
from ..recipients import stored_language
from .attention import budgets_for
from .planning import PlannedMessage, PlanResult, Recipient, full_event_key, plan_messages
from .whatsapp_templates import has_approved_template

DIGEST = "attention_digest"
WHATSAPP_DIGEST = "attention_digest_whatsapp"
# Kinds whose digest line says when the item is due (its moment, the row's expiry: the deadline).
DUE_KINDS = ("assignment_due",)
Status = Delivery.Status


def digest_event_key(user_id: int, local_date: dt.date) -> str:
    return f"u{user_id}@{local_date:%Y%m%d}"


def plan_digests(*, now: dt.datetime | None = None, dry_run: bool = False) -> PlanResult:
    """Plan the digest of every account whose digest hour it is and who has folded messages.

    Run every quarter hour: it reads who has folded messages (their ids, then their settings), and
    only the rows of those whose hour it is; the hooks, the in-app rows and the settling are asked
    once for all of them, not once a person."""
    now = now or timezone.now()
    waiting = Delivery.objects.filter(status=Status.FOLDED, recipient__isnull=False)
    ids = set(waiting.order_by().values_list("recipient_id", flat=True).distinct())
    budgets = budgets_for(get_user_model().objects.in_bulk(ids)) if ids else {}
    due = {}
    for pk, budget in budgets.items():
        local = now.astimezone(budget.zone)
        if local.hour == budget.digest_hour:
            due[pk] = digest_event_key(pk, local.date())
    known = set(
        MessageEvent.objects.filter(key__in=[full_event_key(DIGEST, key) for key in due.values()]).values_list(
            "key", flat=True
        )
    )
    due = {pk: key for pk, key in due.items() if full_event_key(DIGEST, key) not in known}
    result = PlanResult()
    if not due:
        return result
    folded = defaultdict(list)
    for row in waiting.filter(recipient_id__in=list(due)).select_related("recipient", "event", "group"):
        folded[row.recipient_id].append(row)
    rows = [row for pk in due for row in folded[pk]]
    unwanted, read = _unwanted(rows), _in_app(rows)
    messages, settled, approved = [], {}, {}
    for pk, key in due.items():
        items, dropped = _items(folded[pk], unwanted=unwanted, read=read)
        settled[pk] = (items, dropped)
        if items:
            messages.append(_message(folded[pk][0].recipient, key, items, zone=budgets[pk].zone, now=now))
    # On WhatsApp too for readers whose language has an approved template for the digest.
    on_whatsapp = [message for message in messages if _approved_for(message.recipient, approved)]
    if dry_run:
        result = plan_messages(kind=DIGEST, messages=messages, now=now, dry_run=True)
        return result.merge(plan_messages(kind=WHATSAPP_DIGEST, messages=on_whatsapp, now=now, dry_run=True))
    if messages:
        result = plan_messages(kind=DIGEST, messages=messages, now=now)
    if on_whatsapp:
        result.merge(plan_messages(kind=WHATSAPP_DIGEST, messages=on_whatsapp, now=now))
    _settle(settled, due, now)
    return result


def _approved_for(recipient: Recipient, approved: dict) -> bool:
    """Has the digest an approved WhatsApp template in the recipient's language? (`approved`: the
    answers so far, by language.)"""
    language = stored_language(recipient.language) or DEFAULT_LANGUAGE
    if language not in approved:
        approved[language] = has_approved_template(kind=WHATSAPP_DIGEST, language=language)
    return approved[language]


def _unwanted(rows: list[Delivery]) -> dict[int, str]:
    """{row id: why} for the folded rows their kind no longer wants sent (the still_wanted hook, once a kind)."""
    dropped: dict[int, str] = {}
    for kind_name in {row.kind for row in rows}:
        kind = get_kind(kind_name)
        if kind.still_wanted:
            unwanted = kind.hook("still_wanted")([row for row in rows if row.kind == kind_name])
            dropped.update({pk: f"cancelled_{reason}" for pk, reason in unwanted.items()})
    return dropped


def _in_app(rows: list[Delivery]) -> dict[tuple[int, int], tuple]:
    """{(event, person): (read_at, title, link)} of the folded rows' in-app rows (the same event and
    person: the lean in-app key), in one query."""
    pairs = {(row.event_id, row.recipient_id) for row in rows}
    if not pairs:
        return {}
    in_app = Notification.objects.filter(
        event_id__in={event for event, _ in pairs}, user_id__in={user for _, user in pairs}
    ).values_list("event_id", "user_id", "read_at", "title", "link")
    return {(event, user): rest for event, user, *rest in in_app if (event, user) in pairs}


def _items(rows: list[Delivery], *, unwanted: dict, read: dict) -> tuple[list[dict], dict[int, str]]:
    """One person's folded rows still worth a line ({kind, title, link, rows, due}), one per event, and
    the ids of those dropped with why."""
    dropped = {row.pk: unwanted[row.pk] for row in rows if row.pk in unwanted}
    items: dict[int, dict] = {}
    for row in rows:
        if row.pk in dropped:
            continue
        read_at, title, link = read.get((row.event_id, row.recipient_id), (None, "", ""))
        if read_at is not None:
            dropped[row.pk] = "read_in_app"
            continue
        item = items.setdefault(
            row.event_id,
            {"kind": row.kind, "title": title or row.rendered_subject, "link": link, "rows": [], "due": None},
        )
        if row.kind in DUE_KINDS:
            item["due"] = row.expiry
        item["rows"].append(row.pk)
    return list(items.values()), dropped


def _message(user, key: str, items: list[dict], *, zone, now: dt.datetime) -> PlannedMessage:
    language = stored_language(getattr(user, "language", "")) or settings.LANGUAGE_CODE
    locale = reader_locale(language=language, locale=getattr(user, "locale", ""))
    with translation.override(language):
        counts = Counter(item["kind"] for item in items)
        summary = ", ".join(_phrase(kind, count) for kind, count in counts.items())
        lines = [
            {
                "title": render_relative_times(item["title"]) or _phrase(item["kind"], 1),
                "url": _absolute(item["link"]),
                "due": due_words(item["due"], zone=zone, now=now, locale=locale) if item["due"] else "",
            }
            for item in items
        ]
    return PlannedMessage(
        recipient=Recipient.for_user(user),
        event_key=key,
        context={"summary": summary, "items": lines, "count": len(items), "digest_url": _absolute(_list_url())},
        link=_list_url(),
    )


def due_words(deadline: dt.datetime, *, zone, now: dt.datetime, locale: str) -> str:
    """When an item is due, in the active language, on the reader's calendar (`zone`): "due today",
    "due tomorrow", "due Friday" within the week ahead ("शुक्रवार तक"), else "due 14 Dec"."""
    day, today = deadline.astimezone(zone).date(), now.astimezone(zone).date()
    days_away = (day - today).days
    if days_away < 0:  # already past: nothing to say
        return ""
    if days_away == 0:
        return gettext("due today")
    if days_away == 1:
        return gettext("due tomorrow")
    if days_away < 7:
        return gettext("due %(day)s") % {"day": format_weekday(day, locale=locale)}
    return gettext("due %(day)s") % {"day": format_day_month(day, locale=locale)}


def _phrase(kind_name: str, count: int) -> str:
    phrase = get_kind(kind_name).digest_phrase
    if phrase is None:
        return ngettext("%(count)d message", "%(count)d messages", count) % {"count": count}
    return str(phrase % {"count": count})


def _list_url() -> str:
    return reverse("notifications:list")


def _absolute(link: str) -> str:
    if not link:
        return f"{settings.SITE_URL.rstrip('/')}{_list_url()}"
    return f"{settings.SITE_URL.rstrip('/')}{link}" if link.startswith("/") else link


def _settle(settled: dict, keys: dict, now: dt.datetime) -> None:
    """Mark the folded rows summed up in a digest `digested`, and those that dropped out `cancelled`,
    each on its history naming its digest: one update per outcome for everyone, one insert of history."""
    by_outcome = defaultdict(list)
    events = []
    for pk, (items, dropped) in settled.items():
        key = keys[pk]
        for row in (row for item in items for row in item["rows"]):
            by_outcome[Status.DIGESTED].append(row)
            detail = f"digested: summed up in the digest {key}."
            events.append(DeliveryEvent(delivery_id=row, at=now, status=Status.DIGESTED, detail=detail))
        for row, reason in dropped.items():
            by_outcome[Status.CANCELLED].append(row)
            detail = f"dropped_{reason}: dropped from the digest {key}."
            events.append(DeliveryEvent(delivery_id=row, at=now, status=Status.CANCELLED, detail=detail))
    for status, ids in by_outcome.items():
        Delivery.objects.filter(id__in=ids, status=Status.FOLDED).update(status=status, updated_at=now)
    DeliveryEvent.objects.bulk_create(events)
