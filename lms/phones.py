"""
Proving a phone number: a number joins an account only once its owner enters the code sent to it.

Typing a number on the profile page keeps it pending (`PhoneVerification`) and queues a one-time
code to it by WhatsApp (the notifications door: a file in mock mode). The code is made when the
message is rendered for sending and only a keyed hash of it is kept; it expires, works once, and a
few wrong tries void it. Until then the account keeps its old number, and nothing anyone types
changes another account's number or consent.
"""

import datetime as dt
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from notifications.api import PlannedMessage, Recipient, dispatch_deliveries, plan_messages, record_page_consent

from .models import PhoneVerification, User

# The message kind the code goes out as (lms.messages declares it with this module's hooks).
PHONE_CODE = "phone_code"
CODE_DIGITS = 6
HASH_SALT = "lms.phones.code"


@dataclass(frozen=True)
class CodeCheck:
    """What entering a code did: the number it proved, or why it did not."""

    proved: str = ""
    error: str = ""


def code_lifetime() -> dt.timedelta:
    return dt.timedelta(minutes=settings.PHONE_CODE_MINUTES)


def _code_hash(*, user_id: int, phone: str, code: str) -> str:
    # Keyed with SECRET_KEY: a copy of the database alone cannot try the million codes offline.
    return salted_hmac(HASH_SALT, f"{user_id}:{phone}:{code}", algorithm="sha256").hexdigest()


@transaction.atomic
def request_phone_code(*, user: User, phone: str, whatsapp_opt_in: bool, now: dt.datetime | None = None) -> str:
    """Keep `phone` pending for `user` and queue a one-time code to it (sent right after commit); return it."""
    now = now or timezone.now()
    PhoneVerification.objects.update_or_create(
        user=user,
        defaults={
            "phone": phone,
            "whatsapp_opt_in": whatsapp_opt_in,
            "code_hash": "",
            "code_sent_at": None,
            "failed_attempts": 0,
            "created_at": now,
        },
    )
    result = plan_messages(
        kind=PHONE_CODE,
        now=now,
        collect_ids=True,
        messages=[
            PlannedMessage(
                # Not the account as a recipient: the number is not theirs yet, and the code goes to it
                # whether or not they agreed to WhatsApp reminders (they asked for this one message).
                recipient=Recipient(
                    user_id=None, phone=phone, whatsapp_opt_in=True, name=user.name, language=user.language
                ),
                event_key=f"{user.pk}@{now.timestamp():.6f}",
                context={"user_id": user.pk, "phone": phone},
                subject_type=PhoneVerification._meta.label_lower,
                subject_id=user.pk,
                expires_at=now + code_lifetime(),
            )
        ],
    )
    ids = list(result.delivery_ids)
    transaction.on_commit(lambda: dispatch_deliveries(ids=ids))  # they are waiting on the page for it
    return phone


def verification_code(context: dict) -> dict:
    """Make the code as the message is rendered for sending (MessageKind.render_context); keep only its hash.

    A message sent again makes a new code: the one before it stops working.
    """
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    user_id, phone = context["user_id"], context["phone"]
    updated = PhoneVerification.objects.filter(user_id=user_id, phone=phone).update(
        code_hash=_code_hash(user_id=user_id, phone=phone, code=code),
        code_sent_at=timezone.now(),
        failed_attempts=0,
    )
    if not updated:
        raise ValueError("This number is no longer waiting for a code: no code was made.")
    return {"code": code, "minutes": settings.PHONE_CODE_MINUTES}


def unwanted_phone_codes(deliveries) -> dict[int, str]:
    """Cancel codes for numbers no longer waiting for one: replaced, cancelled or proved (still_wanted)."""
    pending = set(
        PhoneVerification.objects.filter(user_id__in={d.subject_id for d in deliveries}).values_list("user_id", "phone")
    )
    return {d.pk: "number_not_pending" for d in deliveries if (d.subject_id, d.to_address) not in pending}


def confirm_phone_code(*, user: User, code: str, now: dt.datetime | None = None) -> CodeCheck:
    """Check the code a student typed; the right one, in time, makes the pending number theirs."""
    now = now or timezone.now()
    with transaction.atomic():  # a wrong try is counted even though the answer is a refusal
        pending = PhoneVerification.objects.select_for_update().filter(user=user).first()
        error = _refusal(pending, now=now)
        if not error and not constant_time_compare(
            _code_hash(user_id=user.pk, phone=pending.phone, code="".join(code.split())), pending.code_hash
        ):
            pending.failed_attempts += 1
            pending.save(update_fields=["failed_attempts"])
            error = _("That is not the code we sent. Check it and try again.")
        if error:
            return CodeCheck(error=error)
        _prove(user=user, pending=pending, now=now)
    return CodeCheck(proved=pending.phone)


def _refusal(pending: PhoneVerification | None, *, now: dt.datetime) -> str:
    if pending is None:
        return _("No number is waiting for a code. Type your number in your profile first.")
    if not pending.code_hash:
        return _("The code is still on its way. Wait a moment, or ask for a new one.")
    if pending.failed_attempts >= settings.PHONE_CODE_MAX_ATTEMPTS:
        return _("Too many wrong codes. Ask for a new code.")
    if pending.code_sent_at + code_lifetime() < now:
        return _("This code has expired. Ask for a new code.")
    return ""


def _prove(*, user: User, pending: PhoneVerification, now: dt.datetime) -> None:
    """The number is theirs: it joins the account, with the WhatsApp consent they chose (single use)."""
    user = User.objects.select_for_update().get(pk=user.pk)
    user.phone, user.phone_verified_at, user.whatsapp_opt_in = pending.phone, now, pending.whatsapp_opt_in
    user.save(update_fields=["phone", "phone_verified_at", "whatsapp_opt_in"])
    pending.delete()
    record_page_consent(
        user=user, phone=user.phone, utility=user.whatsapp_opt_in, source="profile page (number proved by code)"
    )


@transaction.atomic
def cancel_phone_code(*, user: User) -> None:
    """Forget the number waiting for a code; a code on its way is not sent, one sent no longer works."""
    PhoneVerification.objects.filter(user=user).delete()


def needs_code(*, user: User, phone: str) -> bool:
    """Whether saving `phone` on the profile sends a code: a number neither on the account nor waiting for one."""
    return bool(phone) and phone != user.phone and not PhoneVerification.objects.filter(user=user, phone=phone).exists()


def pending_phone(*, user: User) -> PhoneVerification | None:
    """Return the number waiting for its code on `user`'s account, if any."""
    return PhoneVerification.objects.filter(user=user).first()
