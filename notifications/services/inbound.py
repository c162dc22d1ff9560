"""
Messages people send us (WhatsApp replies), from either provider's webhook.

Every message is kept (the person's timeline in the admin, the count on the staff dashboard). A
message that is only a keyword changes consent: STOP (or UNSUBSCRIBE, रोकें...) stops WhatsApp to
that number at once and START lets it resume; each is confirmed with a reply, which WhatsApp allows
inside the 24-hour window the person's message opened. Keywords count only as a whole message,
so "please don't stop the classes" stops nothing.
"""

import datetime as dt
import logging
import string

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import Channel, InboundMessage, Suppression, WhatsAppConsent
from .consent import record_whatsapp_consent
from .dispatch import suppress_address
from .planning import PlannedMessage, Recipient, plan_messages

logger = logging.getLogger(__name__)
Keyword = InboundMessage.Keyword
Category = WhatsAppConsent.Category

STOP_WORDS = {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "रोकें", "रोको", "रोक", "बंद", "बंद करें"}
START_WORDS = {"start", "unstop", "subscribe", "resume", "शुरू", "शुरू करें", "चालू"}
# What WhatsApp, Twilio and people add around a word: punctuation (ASCII and Devanagari danda).
STRIP = string.whitespace + string.punctuation + "।॥"


def keyword_of(text: str) -> str:
    """Return the keyword a whole message is (Keyword.STOP, Keyword.START), or Keyword.NONE."""
    word = " ".join(text.split()).strip(STRIP).casefold()
    if word in STOP_WORDS:
        return Keyword.STOP
    if word in START_WORDS:
        return Keyword.START
    return Keyword.NONE


def account_for_number(address: str) -> tuple[object | None, int]:
    """Return the one account whose number `address` is, and how many accounts have it.

    Two or more: none of them (the message is kept unassigned, with a note for staff). Filing it on
    one of them would show a stranger's reply on a student's timeline, and let it change their consent.
    """
    claimants = list(get_user_model().objects.filter(phone=address).order_by("pk")[:3] if address else [])
    return (claimants[0] if len(claimants) == 1 else None), len(claimants)


def claimants_note(claimants: int) -> str:
    """The note staff read on a reply from a number several accounts have."""
    if claimants < 2:
        return ""
    return (
        f"Not filed on an account: {'more than two' if claimants > 2 else 'two'} accounts have this number. "
        "Find the sender's account by the number, and correct the numbers that are wrong."
    )


@transaction.atomic
def receive_whatsapp_message(
    *, provider: str, provider_message_id: str, from_address: str, text: str, received_at: dt.datetime | None = None
) -> InboundMessage | None:
    """Keep a WhatsApp message a person sent us and act on a keyword; None when it was already received."""
    received_at = received_at or timezone.now()
    user, claimants = account_for_number(from_address)
    try:
        with transaction.atomic():
            inbound = InboundMessage.objects.create(
                channel=Channel.WHATSAPP,
                provider=provider,
                provider_message_id=provider_message_id,
                from_address=from_address,
                user=user,
                staff_note=claimants_note(claimants),
                body=text[:4096],
                keyword=keyword_of(text),
                received_at=received_at,
            )
    except IntegrityError:
        return None  # the provider delivered its webhook again: acted on once already
    source = f"WhatsApp reply “{text.strip()[:40]}” ({provider})"
    if inbound.keyword == Keyword.STOP:
        suppress_address(
            channel=Channel.WHATSAPP,
            address=from_address,
            reason=Suppression.Reason.OPTED_OUT,
            detail=f"Replied “{text.strip()[:40]}” on WhatsApp ({provider}) at {received_at:%Y-%m-%d %H:%M} UTC.",
        )
        for category in Category.values:  # STOP withdraws everything
            record_whatsapp_consent(
                address=from_address, category=category, given=False, source=source, user=user, at=received_at
            )
        _confirm(inbound, kind="whatsapp_stopped")
    elif inbound.keyword == Keyword.START:
        Suppression.objects.filter(
            channel=Channel.WHATSAPP, address=from_address, reason=Suppression.Reason.OPTED_OUT
        ).delete()
        # START brings back reminders and account messages; offers need their own consent.
        record_whatsapp_consent(
            address=from_address, category=Category.UTILITY, given=True, source=source, user=user, at=received_at
        )
        _confirm(inbound, kind="whatsapp_started")
    return inbound


def _confirm(inbound: InboundMessage, *, kind: str) -> None:
    """Plan the confirmation reply to a keyword; the worker sends it like any other message."""
    plan_messages(
        kind=kind,
        now=inbound.received_at,
        messages=[
            PlannedMessage(
                recipient=Recipient(
                    user_id=inbound.user_id,
                    phone=inbound.from_address,
                    whatsapp_opt_in=True,  # a reply to their own message, in the window it opened
                    name=getattr(inbound.user, "name", ""),
                ),
                event_key=f"{inbound.provider}:{inbound.provider_message_id}",
                context={},
                subject_type=InboundMessage._meta.label_lower,
                subject_id=inbound.pk,
                # WhatsApp allows a reply for 24 hours after the person's message.
                expires_at=inbound.received_at + dt.timedelta(hours=24),
            )
        ],
    )
