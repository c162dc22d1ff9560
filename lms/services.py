"""Writes of lms: each owns its transaction."""

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from notifications.api import record_page_consent, validate_language, whatsapp_contact

from .models import Assignment, LiveSession, Payment, PhoneVerification, Recording, Submission, User, validate_timezone
from .phones import cancel_phone_code, needs_code, request_phone_code

# What a calendar invitation shows of a session's time: a change to either is a new version of it.
SCHEDULE_FIELDS = {"scheduled_at", "duration_minutes"}


@transaction.atomic
def submit_assignment(
    *, assignment: Assignment, student: User, text: str = "", file=None, now: dt.datetime | None = None
) -> Submission:
    """Record a student's submission; refuse a second one or one for a course they are not in."""
    if not assignment.course.enrollments.filter(student=student, is_active=True).exists():
        raise ValidationError(_("You are not enrolled in this course."))
    if not text.strip() and not file:
        raise ValidationError(_("Write an answer or attach a file."))
    try:
        with transaction.atomic():
            return Submission.objects.create(
                assignment=assignment, student=student, text=text.strip(), file=file, submitted_at=now or timezone.now()
            )
    except IntegrityError:
        raise ValidationError(_("You have already submitted this assignment.")) from None


@transaction.atomic
def mark_payment_paid(*, payment: Payment, now: dt.datetime | None = None) -> Payment:
    """Mark a pending payment paid; its pending reminders are then no longer sent."""
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.status != Payment.Status.PENDING:
        raise ValidationError(
            _("Payment %(id)s is %(status)s, not pending.")
            % {"id": payment.pk, "status": payment.get_status_display().lower()}
        )
    payment.status = Payment.Status.PAID
    payment.paid_at = now or timezone.now()
    payment.save(update_fields=["status", "paid_at"])
    return payment


@transaction.atomic
def publish_recording(*, recording: Recording, now: dt.datetime | None = None) -> Recording:
    """Make a recording visible to students; the next run announces it."""
    if not recording.visible_to_students:
        recording.visible_to_students = True
        recording.published_at = now or timezone.now()
        recording.save(update_fields=["visible_to_students", "published_at"])
    return recording


@transaction.atomic
def save_session(*, session: LiveSession, changed_fields: set[str]) -> LiveSession:
    """Save a live session; a new time or length is a new version of its calendar invitation.

    Its reminders re-arm by themselves (their key holds the time); students who were told the
    old time get the updated invitation (lms.reminders.plan_session_moved_notices).
    """
    rescheduled = session.pk is not None and bool(SCHEDULE_FIELDS & changed_fields)
    if rescheduled:
        session.sequence = F("sequence") + 1
    session.save()
    if rescheduled:
        session.refresh_from_db(fields=["sequence"])
    return session


@dataclass(frozen=True)
class ProfileSaved:
    user: User
    code_sent_to: str = ""  # a new number typed: it waits for its code, the account keeps the old one


@transaction.atomic
def update_profile(
    *, user: User, name: str, phone: str, time_zone: str, language: str, whatsapp_opt_in: bool
) -> ProfileSaved:
    """Save what a student says about themselves: name, phone, time zone, language, WhatsApp consent.

    WhatsApp needs a number to go to: consent without one is refused, not stored. A new number joins
    the account only once its code is entered (lms.phones): until then the consent applies to the
    number the account has, and is recorded for it with when and how; removing a number needs no code.
    """
    name = " ".join(name.split())
    if not name:
        raise ValidationError({"name": _("Tell us your name: your messages greet you by it.")})
    phone = whatsapp_contact(phone=phone, whatsapp=whatsapp_opt_in)
    checks = (("timezone", validate_timezone, time_zone), ("language", validate_language, language))
    for field, validate, value in checks:
        try:
            validate(value)
        except ValidationError as exc:
            raise ValidationError({field: exc.messages}) from None
    code_sent_to = ""
    if not phone:
        user.phone, user.phone_verified_at = "", None
        cancel_phone_code(user=user)
    elif needs_code(user=user, phone=phone):
        code_sent_to = request_phone_code(user=user, phone=phone, whatsapp_opt_in=whatsapp_opt_in)
    elif phone != user.phone:  # the number already waiting for its code: the choice it will get, no new code
        PhoneVerification.objects.filter(user=user).update(whatsapp_opt_in=whatsapp_opt_in)
        code_sent_to = phone
    user.name, user.timezone, user.language = name[:150], time_zone, language
    # While a new number waits for its code, the old one's consent can be withdrawn, never given.
    keep = user.whatsapp_opt_in if code_sent_to else True
    user.whatsapp_opt_in = whatsapp_opt_in and keep and bool(user.phone)
    user.save(update_fields=["name", "phone", "phone_verified_at", "timezone", "language", "whatsapp_opt_in"])
    record_page_consent(user=user, phone=user.phone, utility=user.whatsapp_opt_in, source="profile page")
    return ProfileSaved(user=user, code_sent_to=code_sent_to)
