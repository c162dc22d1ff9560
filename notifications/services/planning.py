"""
Planning: turn "this person should get this message" into ledger rows, idempotently.

Runs inside the caller's transaction, so a business change and its messages commit (or roll
back) together. Planning the same message twice, from two processes at once, or again after
a crash, inserts nothing twice: the ledger's unique key per channel decides. The scheduled
rules plan whole audiences in a few statements (audiences.py); this is the one-by-one path, for
messages made in Python (onboarding, account links).
"""

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from django.utils import timezone

from common.db import insert_ignoring_conflicts

from ..conf import conf
from ..kinds import INAPP, get_kind
from ..languages import DEFAULT_LANGUAGE
from ..models import Channel, Delivery, MessageEvent, Notification
from ..rendering import render_inapp

PREVIEW_LIMIT = 500
E164_SHAPE = re.compile(r"^\+[1-9]\d{6,14}$")


@dataclass(frozen=True)
class Recipient:
    """Who a message is for; `user_id` is None for people without an account (leads)."""

    user_id: int | None
    email: str = ""
    phone: str = ""
    whatsapp_opt_in: bool = False
    name: str = ""
    timezone: str = ""
    locale: str = ""
    language: str = ""

    @classmethod
    def for_user(cls, user) -> "Recipient":
        """Return the recipient for an account (settings.AUTH_USER_MODEL)."""
        return cls(
            user_id=user.pk,
            email=user.email,
            phone=getattr(user, "phone", ""),
            whatsapp_opt_in=getattr(user, "whatsapp_opt_in", False),
            name=getattr(user, "name", ""),
            timezone=getattr(user, "timezone", ""),
            locale=getattr(user, "locale", ""),
            language=getattr(user, "language", ""),
        )

    @property
    def ref(self) -> str:
        return f"u{self.user_id}" if self.user_id is not None else self.email.lower()


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

    def merge(self, other: "PlanResult") -> "PlanResult":
        self.planned.update(other.planned)
        self.skipped.update(other.skipped)
        self.messages += other.messages
        self.delivery_ids.extend(other.delivery_ids)
        self.preview.extend(other.preview[: max(0, PREVIEW_LIMIT - len(self.preview))])
        return self

    @property
    def total(self) -> int:
        return sum(self.planned.values())


def first_name(name: str) -> str:
    """Return what a message calls a person: the first word of their name, or "there"."""
    return (name or "").split(" ")[0] or "there"


def recipient_context(name: str) -> dict:
    """What a message knows of its recipient, laid over the event's context (the recipient's own wins)."""
    return {"name": name, "first_name": first_name(name)}


@dataclass(frozen=True)
class Requirement:
    """One condition a recipient must meet to get a channel, written once for both planning paths:
    `holds` for a Recipient in Python (plan_messages), `sql` for a row `p` of an audience
    (audiences.py; SQL and parameters, by database vendor). `reason` is the skip reason."""

    reason: str
    holds: Callable[[Recipient], bool]
    sql: Callable[[str], tuple[str, list]]


def _phone_shape_sql(vendor: str) -> tuple[str, list]:
    operator = "~" if vendor == "postgresql" else "REGEXP"
    return f"p.phone {operator} %s", [E164_SHAPE.pattern]


# Checked in order; the first unmet one is why the channel was skipped.
REQUIREMENTS: dict[str, tuple[Requirement, ...]] = {
    Channel.EMAIL: (
        Requirement("no_email", lambda r: bool(r.email), lambda _: ("(p.email IS NOT NULL AND p.email <> '')", [])),
    ),
    Channel.WHATSAPP: (
        Requirement("whatsapp_not_opted_in", lambda r: bool(r.whatsapp_opt_in), lambda _: ("p.whatsapp_opt_in", [])),
        # The shape only: the dispatcher checks the number fully.
        Requirement("whatsapp_invalid_number", lambda r: bool(E164_SHAPE.match(r.phone or "")), _phone_shape_sql),
    ),
}


def unmet_requirement(channel: str, recipient: Recipient) -> str:
    """Return why `recipient` cannot get `channel` (a skip reason), or "" when they can."""
    return next((rule.reason for rule in REQUIREMENTS.get(channel, ()) if not rule.holds(recipient)), "")


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


# Read from the account when a message to it is rendered (Delivery.context).
ACCOUNT_KEYS = ("name", "first_name", "language")


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
        deliveries, notifications = [], []
        for message in chunk:
            result.messages += 1
            _plan_one(message_kind, message, now, deliveries, notifications, result, dry_run)
        if dry_run:
            continue
        events = {}
        for row in deliveries:
            subject = {"subject_type": row.pop("subject_type"), "subject_id": row.pop("subject_id")}
            events.setdefault(row["event_key"], {"kind": kind, "created_at": now, **subject})
        ids = event_ids(events)
        for row in deliveries:
            row["event_id"] = ids[row.pop("event_key")]
        # One insert per channel so the counts of what was new are exact per channel.
        for channel in (Channel.EMAIL, Channel.WHATSAPP):
            rows = [d for d in deliveries if d["channel"] == channel]
            made = insert_ignoring_conflicts(Delivery, rows, any_conflict=True)
            result.planned[channel] += len(made)
            result.skipped["already_planned"] += len(rows) - len(made)
            if collect_ids:
                result.delivery_ids.extend(made)
        result.planned[INAPP] += len(
            insert_ignoring_conflicts(Notification, notifications, conflict_fields=("dedupe_key",))
        )
    return result


def _plan_one(message_kind, message, now, deliveries, notifications, result, dry_run) -> None:
    recipient = message.recipient
    kind = message_kind.name
    event_key = full_event_key(kind, message.event_key)
    context = {**message.context, **recipient_context(recipient.name)}
    if recipient.language and recipient.language != DEFAULT_LANGUAGE:  # dispatch renders the message in it
        context.setdefault("language", recipient.language)
    targets = []
    for channel, address in ((Channel.EMAIL, recipient.email.lower()), (Channel.WHATSAPP, recipient.phone)):
        if channel not in message_kind.channels:
            continue
        if reason := unmet_requirement(channel, recipient):
            result.skipped[reason] += 1
        else:
            targets.append((channel, address))
    for channel, address in targets:
        if dry_run:
            if len(result.preview) < PREVIEW_LIMIT:
                result.preview.append((kind, channel, address, message.event_key))
            result.planned[channel] += 1
            continue
        deliveries.append(
            {
                "channel": channel,
                "event_key": event_key,
                "subject_type": message.subject_type,
                "subject_id": message.subject_id,
                "recipient_id": recipient.user_id,
                "to_address": address,
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
                "created_at": now,
                "dedupe_key": f"{event_key}:{recipient.ref}",
            }
        )
