"""
Reconciliation: ask the provider what became of each `unknown` delivery and settle it.

A delivery is `unknown` when it was inside a provider request whose answer never came (a
timeout, a dropped connection, a worker killed mid-request). Every message carries its delivery
id to the provider, so the provider can be asked: Postmark's outbound message search by the
`delivery_id` metadata; Twilio's message list by recipient and time (the moment it was handed
over). The provider has it: `sent` (with its message id), or `failed` when the provider says it
failed. The provider has no record: back to `pending` for another attempt (or `failed` when the
attempts are used up). Backends that cannot be asked (console, file, SMTP) leave the row to staff.
Each settlement writes what the provider said on the delivery's history.

Twilio's list does not echo our delivery id, so a message found there is given only to the row
whose content it carries (its text holds the row's template variables, or its free text) and
within whose request's time it was made, never to another row to the same number; while two rows
to one number cannot be told apart (the same content, both in doubt), neither is settled.
"""

import contextlib
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from ..channels.base import ProviderMessage
from ..channels.email import EmailChannel
from ..channels.whatsapp import get_whatsapp_backend
from ..conf import conf
from ..kinds import get_kind
from ..models import Channel, Delivery, DeliveryEvent
from ..rendering import REDACTED, redact, render_whatsapp
from .dispatch import fixed_or_real_clock

logger = logging.getLogger(__name__)
Status = Delivery.Status
# Twilio's list has a day's resolution and clocks differ: look this far either side of the request.
WINDOW_SLACK = timedelta(minutes=5)


@dataclass
class ReconcileResult:
    # sent / failed / pending (asked again) by what the provider said; "left" for staff (the backend
    # cannot be asked, or the provider's answer was ambiguous); "error" (the provider could not answer).
    outcomes: Counter = field(default_factory=Counter)

    @property
    def processed(self) -> int:
        return sum(self.outcomes.values())


def reconcile_unknown_deliveries(
    *, now: datetime | None = None, limit: int = 500, max_seconds: float | None = None
) -> ReconcileResult:
    """Ask the provider about each `unknown` delivery old enough to be searchable, and settle it
    (for at most `max_seconds`; the next run goes on)."""
    clock = fixed_or_real_clock(now)
    deadline = time.monotonic() + max_seconds if max_seconds else None
    settle_after = timedelta(seconds=conf.reconcile_after_seconds)
    rows = list(
        Delivery.objects.filter(status=Status.UNKNOWN, updated_at__lte=clock() - settle_after).order_by(
            "updated_at", "id"
        )[:limit]
    )
    result = ReconcileResult()
    with contextlib.ExitStack() as stack:
        channels: dict[str, object] = {}

        def channel_for(delivery: Delivery):
            if delivery.channel not in channels:
                opened = EmailChannel() if delivery.channel == Channel.EMAIL else get_whatsapp_backend()
                channels[delivery.channel] = stack.enter_context(opened)
            return channels[delivery.channel]

        for delivery in rows:
            if deadline is not None and time.monotonic() >= deadline:
                break
            try:
                found = _ask(channel_for(delivery), delivery)
            except Exception as exc:  # the provider is down or refused: ask again next run
                logger.warning("Could not reconcile delivery %s: %s", delivery.pk, exc)
                result.outcomes["error"] += 1
                continue
            result.outcomes[_settle(delivery, found, now=clock())] += 1
    return result


def _ask(channel, delivery: Delivery) -> "Found | None":
    sent_after, sent_before = _window(delivery)
    # An email is looked for in the stream it went through (Postmark searches one at a time).
    stream = {"marketing": get_kind(delivery.kind).is_marketing} if delivery.channel == Channel.EMAIL else {}
    found = channel.find_sent(
        delivery_id=delivery.pk,
        to=delivery.to_address,
        sent_after=sent_after,
        sent_before=sent_before,
        **stream,
    )
    if found is None:
        return None
    if delivery.channel == Channel.EMAIL:  # found by the delivery id the message carries
        return Found(found)
    return match_whatsapp(delivery, found)


@dataclass
class Found:
    """What the provider has of one delivery: its messages, or why its answer cannot be given to it alone."""

    messages: list[ProviderMessage]
    undecided: str = ""  # for the history (staff), when the answer fits another row as well


def match_whatsapp(delivery: Delivery, found: list[ProviderMessage]) -> Found:
    """Return the messages of `found` (the provider's, to the row's number around its request)
    that are this row's: those carrying its content, made while it was handed over, that no other
    row to the number could be."""
    known = set(  # a message already recorded on another delivery is that one's
        Delivery.objects.filter(provider_message_id__in=[m.provider_message_id for m in found])
        .exclude(pk=delivery.pk)
        .values_list("provider_message_id", flat=True)
    )
    content = message_content(delivery)
    mine = [m for m in found if m.provider_message_id not in known and content.carried_by(m)]
    if not mine:
        return Found([])
    rivals = [
        (rival, _window(rival), message_content(rival))
        for rival in Delivery.objects.filter(
            channel=Channel.WHATSAPP,
            to_address=delivery.to_address,
            status__in=(Status.UNKNOWN, Status.SENDING),
            handed_over_at__isnull=False,
        )
        .exclude(pk=delivery.pk)
        .select_related("event", "group")
    ]
    kept = []
    for message in mine:
        claimants = [
            (rival, carried)
            for rival, window, carried in rivals
            if _made_within(message, window) and carried.carried_by(message)
        ]
        # Another row could have sent it too: it is this row's only when this row's content says more
        # (a "tomorrow" reminder's time, beside the "starting soon" one's title and link) and the
        # message carries that more; it is the other's when the other's says more; else nobody's.
        if not claimants or (message.body is not None and all(content.extends(other) for _, other in claimants)):
            kept.append(message)
        elif message.body is None or not any(other.extends(content) for _, other in claimants):
            rival = claimants[0][0]
            return Found([], undecided=f"delivery {rival.pk} to this number could have sent the same message")
    if not kept:
        return Found([])
    handed_over = _window(delivery)[0] + WINDOW_SLACK
    closest = min(kept, key=lambda m: abs((m.created_at - handed_over).total_seconds()) if m.created_at else 0)
    return Found([closest])


@dataclass(frozen=True)
class Content:
    """What a WhatsApp message carries that the provider shows: its template's variables (those
    not minted for the sending), or its free text in pieces (around the minted links)."""

    pieces: tuple[str, ...]

    def extends(self, other: "Content") -> bool:
        """Whether this content holds all of `other`'s and more."""
        return set(self.pieces) > set(other.pieces)

    def carried_by(self, message: ProviderMessage) -> bool:
        if message.body is None:  # the provider shows no content: it could be any row's
            return True
        return all(re.search(rf"(?<!\w){re.escape(piece)}(?!\w)", message.body) for piece in self.pieces)


def message_content(delivery: Delivery) -> Content:
    """Return what the provider would show of `delivery`'s message (rendered again from its row)."""
    kind = get_kind(delivery.kind)
    rendered, variables = render_whatsapp(kind=kind, context=delivery.context)
    secrets = rendered.secrets
    if kind.reply:  # free text: the text itself, split around what was minted for the sending
        text = redact(rendered.text, secrets)
        pieces = tuple(piece.strip() for piece in text.split(REDACTED) if piece.strip())
    else:
        pieces = tuple(value for value in variables.values() if value and not any(s in value for s in secrets))
    return Content(pieces)


def _window(delivery: Delivery) -> tuple[datetime, datetime]:
    handed_over = delivery.handed_over_at or delivery.claimed_at or delivery.updated_at
    timeout = timedelta(seconds=max(settings.TWILIO_TIMEOUT, 30))
    return handed_over - WINDOW_SLACK, handed_over + timeout + WINDOW_SLACK


def _made_within(message: ProviderMessage, window: tuple[datetime, datetime]) -> bool:
    return message.created_at is None or window[0] <= message.created_at <= window[1]


def _settle(delivery: Delivery, found: Found | None, *, now: datetime) -> str:
    """Settle one `unknown` delivery from what the provider said; return the outcome's name."""
    if found is None:
        return "left"
    if found.undecided:
        _note(delivery, now, f"Reconciliation: the provider has a message this may be, but {found.undecided}.")
        return "left"
    if found.messages:
        message = found.messages[0]
        status = Status.FAILED if message.failed else Status.SENT
        updates = {"status": status, "provider_message_id": message.provider_message_id}
        if status == Status.SENT:
            updates["sent_at"] = now
        else:
            updates.update(error_code=message.error_code or "failed", last_error=message.detail)
        detail = f"Reconciled: {message.detail}"
    elif delivery.attempts < conf.max_attempts:
        status = Status.PENDING
        # The claim token stays: should the worker that sent it still answer "sent", its answer wins.
        updates = {"status": status, "next_attempt_at": now, "handed_over_at": None}
        detail = "Reconciled: the provider has no record of this message; queued again."
    else:
        status = Status.FAILED
        updates = {"status": status, "error_code": "not_at_provider"}
        detail = f"Reconciled: the provider has no record of this message; gave up after {delivery.attempts} attempts."
    with transaction.atomic():
        # Only while still unknown: a callback may have settled it meanwhile.
        if not Delivery.objects.filter(pk=delivery.pk, status=Status.UNKNOWN).update(updated_at=now, **updates):
            return "settled_meanwhile"
        DeliveryEvent.objects.create(delivery_id=delivery.pk, at=now, status=status, detail=detail[:2000])
    logger.info("Delivery %s reconciled: %s", delivery.pk, detail)
    return str(status)


def _note(delivery: Delivery, now: datetime, detail: str) -> None:
    """Write `detail` on the history once (not again on every run)."""
    if not DeliveryEvent.objects.filter(delivery_id=delivery.pk, detail=detail).exists():
        DeliveryEvent.objects.create(delivery_id=delivery.pk, at=now, status=Status.UNKNOWN, detail=detail)
