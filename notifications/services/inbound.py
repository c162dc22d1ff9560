"""
Messages people send us (WhatsApp replies), from either provider's webhook.

Every message is kept (the person's timeline in the admin, the count on the staff dashboard). A
message that is only a keyword changes consent: STOP (or UNSUBSCRIBE, REVOKE, रोकें...) stops
WhatsApp to that number at once and START (or YES, UNSTOP) lets it resume; a marketing template's
"Stop promotions" button, or WhatsApp's own "stop marketing messages" setting, stops offers only.
Each is confirmed with a reply, which WhatsApp allows inside the 24-hour window the person's
message opened. Keywords count only as a whole message, so "please don't stop the classes" stops
nothing.
"""

import datetime as dt
import logging
import unicodedata

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import Channel, InboundMessage, Suppression, WhatsAppConsent
from ..replies import InboundReply, answer_reply
from .consent import record_whatsapp_consent
from .dispatch import suppress_address
from .planning import PlannedMessage, Recipient, plan_messages

logger = logging.getLogger(__name__)
Keyword = InboundMessage.Keyword
Category = WhatsAppConsent.Category

# Twilio's documented opt-out and opt-in keywords (Advanced Opt-Out: STOP, STOPALL, UNSUBSCRIBE,
# CANCEL, END, QUIT, REVOKE, OPTOUT; START, YES, UNSTOP), which Twilio does not act on for WhatsApp,
# so these lists are the only guard; and their Hindi equivalents.
STOP_WORDS = {
    *("stop", "stopall", "stop all", "unsubscribe", "cancel", "end", "quit", "revoke", "optout", "opt out"),
    "unsubscribe all",
    *("रोकें", "रोको", "रोक", "बंद", "बंद करें"),
}
START_WORDS = {"start", "yes", "unstop", "subscribe", "resume", "शुरू", "शुरू करें", "चालू", "हाँ", "हां"}
# The keyword a provider says it matched (Twilio's OptOutType); HELP changes nothing.
PROVIDER_KEYWORDS = {"STOP": Keyword.STOP, "START": Keyword.START}
# "Yes" answers many questions: it opts back in only a number that opted out.
ONLY_AFTER_STOP = {"yes", "हाँ", "हां"}
# A marketing template's opt-out quick reply (Meta's "Stop promotions" button; its payload, or the
# payload we set) stops offers only; reminders go on.
MARKETING_STOP_WORDS = {
    *("stop promotions", "stop promotion", "stop promotional messages", "stop marketing", "stop offers"),
    *("प्रमोशन बंद करें", "प्रचार बंद करें", "ऑफ़र बंद करें"),
}
MARKETING_START_WORDS = {"resume promotions", "start promotions", "resume marketing", "प्रमोशन शुरू करें"}
# What WhatsApp, Twilio and people add around a word: punctuation (any script's: "¡STOP!", the
# Devanagari danda), symbols and emoji ("STOP 🛑"), invisible characters; and inside a button's
# payload, underscores and hyphens (STOP_PROMOTIONS).
SEPARATORS = str.maketrans({"_": " ", "-": " "})


def _is_noise(character: str) -> bool:
    return character.isspace() or unicodedata.category(character)[0] in "PSZC"


def _normalised(text: str) -> str:
    word = " ".join(text.translate(SEPARATORS).split())
    start, end = 0, len(word)
    while start < end and _is_noise(word[start]):
        start += 1
    while end > start and _is_noise(word[end - 1]):
        end -= 1
    return " ".join(word[start:end].split()).casefold()


def keyword_of(text: str, *, payload: str = "") -> str:
    """Return the keyword a whole message (or the button tapped) is, or Keyword.NONE."""
    for said in (payload, text):
        word = _normalised(said)
        if word in STOP_WORDS:
            return Keyword.STOP
        if word in START_WORDS:
            return Keyword.START
        if word in MARKETING_STOP_WORDS:
            return Keyword.MARKETING_STOP
        if word in MARKETING_START_WORDS:
            return Keyword.MARKETING_START
    return Keyword.NONE


def _keyword(text: str, *, payload: str, address: str) -> str:
    keyword = keyword_of(text, payload=payload)
    if keyword == Keyword.START and _normalised(payload or text) in ONLY_AFTER_STOP:
        opted_out = Suppression.objects.filter(
            channel=Channel.WHATSAPP, address=address, category="", reason=Suppression.Reason.OPTED_OUT
        ).exists()
        return keyword if opted_out else Keyword.NONE
    return keyword


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
    *,
    provider: str,
    provider_message_id: str,
    from_address: str,
    text: str,
    received_at: dt.datetime | None = None,
    button_payload: str = "",
    opt_out_type: str = "",
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
                keyword=PROVIDER_KEYWORDS.get(opt_out_type.upper())
                or _keyword(text, payload=button_payload, address=from_address),
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
    elif inbound.keyword in (Keyword.MARKETING_STOP, Keyword.MARKETING_START):
        stop = inbound.keyword == Keyword.MARKETING_STOP
        _change_marketing(address=from_address, stop=stop, source=source, user=user, at=received_at)
        _confirm(inbound, kind="whatsapp_marketing_stopped" if stop else "whatsapp_marketing_started")
    else:
        _answer(inbound, payload=button_payload)
    return inbound


def _answer(inbound: InboundMessage, *, payload: str) -> None:
    """Hand a message that is no keyword to the handlers other apps registered (notifications.replies)."""
    reply = InboundReply(
        user_id=inbound.user_id,
        address=inbound.from_address,
        text=inbound.body,
        payload=payload,
        received_at=inbound.received_at,
        provider=inbound.provider,
    )
    try:
        with transaction.atomic():  # a handler that fails loses its answer, never the message
            answer = answer_reply(reply)
    except Exception:
        logger.exception("A reply handler failed on inbound message %s", inbound.pk)
        return
    if answer is None:
        return
    if answer.note and not inbound.staff_note:
        InboundMessage.objects.filter(pk=inbound.pk).update(staff_note=answer.note[:255])
    if answer.kind:
        _confirm(inbound, kind=answer.kind, event_key=answer.event_key, context=answer.context)


@transaction.atomic
def change_marketing_preference(
    *, address: str, stop: bool, source: str, detail: str = "", at: dt.datetime | None = None
) -> InboundMessage | None:
    """The person stopped (or resumed) marketing messages in WhatsApp's own setting: suppress (or
    lift) marketing WhatsApp for the number; confirm it when a window the person opened allows a
    reply. Return the message that window belongs to, if any."""
    at = at or timezone.now()
    user, _claimants = account_for_number(address)
    _change_marketing(address=address, stop=stop, source=source, user=user, at=at, detail=detail)
    # No message of theirs came with it: a reply is allowed only inside the window of their last one.
    window = (
        InboundMessage.objects.filter(
            channel=Channel.WHATSAPP, from_address=address, received_at__gt=timezone.now() - dt.timedelta(hours=24)
        )
        .order_by("-received_at")
        .first()
    )
    if window is not None:
        kind = "whatsapp_marketing_stopped" if stop else "whatsapp_marketing_started"
        key = f"{window.provider}:{window.provider_message_id}:{kind}:{int(at.timestamp())}"
        _confirm(window, kind=kind, event_key=key)
    return window


def _change_marketing(*, address: str, stop: bool, source: str, user, at: dt.datetime, detail: str = "") -> None:
    """Suppress (or lift) marketing WhatsApp for `address` and record the consent change."""
    if stop:
        suppress_address(
            channel=Channel.WHATSAPP,
            address=address,
            reason=Suppression.Reason.OPTED_OUT,
            category=Category.MARKETING,
            detail=f"{source} at {at:%Y-%m-%d %H:%M} UTC. {detail}".strip(),
        )
    else:
        Suppression.objects.filter(
            channel=Channel.WHATSAPP, address=address, category=Category.MARKETING, reason=Suppression.Reason.OPTED_OUT
        ).delete()
    record_whatsapp_consent(
        address=address, category=Category.MARKETING, given=not stop, source=source, user=user, at=at
    )


def _confirm(inbound: InboundMessage, *, kind: str, event_key: str = "", context: dict | None = None) -> None:
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
                event_key=event_key or f"{inbound.provider}:{inbound.provider_message_id}",
                context=context or {},
                subject_type=InboundMessage._meta.label_lower,
                subject_id=inbound.pk,
                # WhatsApp allows a reply for 24 hours after the person's message.
                expires_at=inbound.received_at + dt.timedelta(hours=24),
            )
        ],
    )
