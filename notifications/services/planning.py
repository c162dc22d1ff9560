"""
Planning: turn "this person should get this message" into ledger rows, idempotently.

Runs inside the caller's transaction, so a business change and its messages commit (or roll
back) together. Planning the same message twice, from two processes at once, or again after
a crash, inserts nothing twice: the ledger's unique key per channel decides. The scheduled
rules plan whole audiences in a few statements (audiences/); this is the one-by-one path, for
messages made in Python (onboarding, account links).
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from django.utils import timezone

from common.db import insert_ignoring_conflicts

from ..conf import conf
from ..kinds import INAPP, get_kind
from ..models import Channel, Delivery, MessageEvent, Notification
from ..recipients import (
    ACCOUNT_KEYS,
    Recipient,
    address,
    recipient_context,
    stored_language,
    unmet_requirement,
)
from ..rendering import render_inapp

PREVIEW_LIMIT = 500


@dataclass
class PlannedMessage:
    recipient: Recipient
    # Names the event, without kind and recipient: "42@20261125T0430" for a session at a time.
    event_key: str
    context: dict
    subject_type: str = ""
    subject_id: int | None = None
    # Where the in-app notification leads (a path on this site or an absolute URL).
    link: str = ""
    expires_at: datetime | None = None


@dataclass
class PlanResult:
    planned: Counter = field(default_factory=Counter)  # rows made, by channel ("inapp" too)
    skipped: Counter = field(default_factory=Counter)  # by reason
    preview: list = field(default_factory=list)  # dry run: (kind, channel, address, event)
    messages: int = 0
    delivery_ids: list = field(default_factory=list)  # only with plan_messages(collect_ids=True)
    # Dry run: what each previewed event is about, {event key (without kind): (subject type, id)},
    # when the rule's groups name their events (the staff outbox holds a subject with it).
    subjects: dict = field(default_factory=dict)

    def merge(self, other: "PlanResult") -> "PlanResult":
        self.planned.update(other.planned)
        self.skipped.update(other.skipped)
        self.messages += other.messages
        self.delivery_ids.extend(other.delivery_ids)
        self.subjects.update(other.subjects)
        self.preview.extend(other.preview[: max(0, PREVIEW_LIMIT - len(self.preview))])
        return self

    @property
    def total(self) -> int:
        return sum(self.planned.values())


def priority_for(kind) -> int:
    """Return the dispatch priority of a message kind (lower is claimed first): NOTIFICATIONS["PRIORITIES"],
    else 3 for marketing and 2 for everything else."""
    named = conf.priorities
    if kind.name in named:
        return int(named[kind.name])
    return 3 if kind.is_marketing else 2


def full_event_key(kind: str, event_key: str) -> str:
    return f"{kind}:{event_key}"


def event_ids(events: dict[str, dict]) -> dict[str, int]:
    """Return the id of each event (full key -> MessageEvent fields), making those that are new, in
    one statement whatever their number (ON CONFLICT (key) DO UPDATE returns known ids too)."""
    if not events:
        return {}
    made = MessageEvent.objects.bulk_create(
        [MessageEvent(key=key, **fields) for key, fields in events.items()],
        update_conflicts=True,
        unique_fields=["key"],
        update_fields=["kind"],
    )
    return {event.key: event.pk for event in made}


def own_context(recipient: Recipient, context: dict) -> dict | None:
    """What a row keeps of `context` beside its group's: for an account, not its name and language
    (read from the account when the message is rendered); None when nothing is left."""
    if recipient.user_id is not None:
        context = {key: value for key, value in context.items() if key not in ACCOUNT_KEYS}
    return context or None


def plan_messages(
    *,
    kind: str,
    messages: Iterable[PlannedMessage],
    now: datetime | None = None,
    dry_run: bool = False,
    collect_ids: bool = False,
) -> PlanResult:
    """Plan `messages` of `kind` on every channel the kind uses; return what was made and skipped.

    Consumes `messages` lazily in chunks, so a rule can stream millions of recipients in
    bounded memory with a number of queries that grows only with the number of chunks.
    """
    message_kind = get_kind(kind)
    now = now or timezone.now()
    chunk_size = conf.plan_chunk_size
    result = PlanResult()
    iterator = iter(messages)
    while chunk := list(islice(iterator, chunk_size)):
        deliveries, notifications, skips = [], [], []
        for message in chunk:
            result.messages += 1
            _plan_one(message_kind, message, now, deliveries, notifications, skips, result, dry_run)
        # Before the inserts: who cannot get a channel, counted once per event (while it is new).
        result.skipped.update(_new_skips(message_kind, skips))
        if dry_run:
            continue
        # The events both the ledger's rows and the in-app ones are keyed by.
        events = {}
        for row in (*deliveries, *notifications):
            subject = {"subject_type": row.pop("subject_type"), "subject_id": row.pop("subject_id")}
            events.setdefault(row["event_key"], {"kind": kind, "created_at": now, **subject})
        ids = event_ids(events)
        for row in (*deliveries, *notifications):
            row["event_id"] = ids[row.pop("event_key")]
        # One insert per channel so the counts of what was new are exact per channel.
        for channel in (Channel.EMAIL, Channel.WHATSAPP):
            rows = [d for d in deliveries if d["channel"] == channel]
            made = insert_ignoring_conflicts(Delivery, rows, any_conflict=True)
            result.planned[channel] += len(made)
            if collect_ids:
                result.delivery_ids.extend(made)
        result.planned[INAPP] += len(
            insert_ignoring_conflicts(Notification, notifications, conflict_fields=("event", "user"))
        )
    return result


def _new_skips(message_kind, skips: list[tuple[str, Recipient, list[str]]]) -> Counter:
    """Count the skip reasons of (event key, recipient, reasons) whose event is still new for the
    recipient: no row of the kind's first channel yet (as plan_audience counts them), so a run
    planned again skips nobody again. One query per chunk, only when someone was skipped."""
    anchor = next((channel for channel in (Channel.EMAIL, Channel.WHATSAPP) if channel in message_kind.channels), None)
    if not skips or anchor is None:
        return Counter()
    planned = set()
    rows = Delivery.objects.filter(channel=anchor, event__key__in={event_key for event_key, _, _ in skips})
    for event_key, recipient_id, to_address in rows.values_list("event__key", "recipient_id", "to_address"):
        planned.add((event_key, recipient_id, to_address if recipient_id is None else ""))
    counts = Counter()
    for event_key, recipient, reasons in skips:
        who = (recipient.user_id, address(anchor, recipient) if recipient.user_id is None else "")
        if (event_key, *who) not in planned:
            counts.update(reasons)
    return counts


def _plan_one(message_kind, message, now, deliveries, notifications, skips, result, dry_run) -> None:
    recipient = message.recipient
    kind = message_kind.name
    event_key = full_event_key(kind, message.event_key)
    context = {**message.context, **recipient_context(recipient.name)}
    if language := stored_language(recipient.language):  # dispatch renders the message in it
        context.setdefault("language", language)
    targets, reasons = [], []
    for channel in (Channel.EMAIL, Channel.WHATSAPP):
        if channel not in message_kind.channels:
            continue
        if reason := unmet_requirement(channel, recipient):
            reasons.append(reason)
        else:
            targets.append((channel, address(channel, recipient)))
    if reasons:
        skips.append((event_key, recipient, reasons))
    for channel, to_address in targets:
        if dry_run:
            if len(result.preview) < PREVIEW_LIMIT:
                result.preview.append((kind, channel, to_address, message.event_key))
            result.planned[channel] += 1
            continue
        deliveries.append(
            {
                "channel": channel,
                "event_key": event_key,
                "subject_type": message.subject_type,
                "subject_id": message.subject_id,
                "recipient_id": recipient.user_id,
                "to_address": to_address,
                "own_context": own_context(recipient, context),
                "next_attempt_at": now,
                "priority": priority_for(message_kind),
                "expires_at": message.expires_at,
                "created_at": now,
            }
        )
    if INAPP in message_kind.channels and recipient.user_id is not None:
        if dry_run:
            result.planned[INAPP] += 1
            return
        # Words that age (a day) are left for the page to say when shown.
        rendered = render_inapp(kind=message_kind, context={**context, "rendered_for": INAPP})
        notifications.append(
            {
                "user_id": recipient.user_id,
                "kind": kind,
                "title": rendered.subject[:200],
                "message": rendered.text,
                "link": message.link,
                "created_at": min(now, timezone.now()),  # never in the future (run_reminders --now)
                "event_key": event_key,
                "subject_type": message.subject_type,
                "subject_id": message.subject_id,
            }
        )
