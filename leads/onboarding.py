"""
CTA approval onboarding: the seed's nine steps as one transaction.

Lock the submission, create (or link) the student, plan the welcome email with a single-use
set-password link (never a password), the WhatsApp welcome, optionally a welcome call with a
calendar invitation, a CRM row per step, a note to the approving staff member, and the lead's
conversion. Messages go through the ledger and leave only after commit: if any step fails,
nothing is created and nothing is sent.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from common.formatting import format_when, reader_locale, zone
from lms.accounts import link_context
from lms.models import User
from notifications.api import (
    Channel,
    Delivery,
    PlannedMessage,
    Recipient,
    WhatsAppConsent,
    dispatch_deliveries,
    plan_messages,
    record_whatsapp_consent,
)

from . import messages
from .campaigns import track_lead_conversion
from .links import SUBMISSION
from .models import CrmActivity, CTASubmission, WelcomeCall

Kind = CrmActivity.Kind


@dataclass
class OnboardingResult:
    submission: CTASubmission
    user: User
    user_created: bool
    call: WelcomeCall | None = None
    delivery_ids: list[int] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)

    def _status(self, channel: str) -> str:
        rows = Delivery.objects.filter(pk__in=self.delivery_ids, event__kind=messages.WELCOME.name, channel=channel)
        statuses = list(rows.values_list("status", flat=True))
        return statuses[0] if statuses else "not planned"

    @property
    def email_status(self) -> str:
        return self._status(Channel.EMAIL)

    @property
    def whatsapp_status(self) -> str:
        return self._status(Channel.WHATSAPP)


def _log(submission, kind, description, *, actor, user=None, now, **metadata) -> None:
    CrmActivity.objects.create(
        kind=kind,
        submission=submission,
        lead=submission.lead,
        user=user,
        actor=actor,
        description=description,
        metadata=metadata,
        created_at=now,
    )


def lock_pending_submission(*, submission: CTASubmission) -> CTASubmission:
    """Lock the submission; refuse one already approved or rejected (a double click, two staff)."""
    locked = CTASubmission.objects.select_for_update().get(pk=submission.pk)
    if locked.status != CTASubmission.Status.PENDING:
        already = _("already approved") if locked.status == CTASubmission.Status.APPROVED else _("already rejected")
        raise ValidationError(_("%(name)s's submission is %(already)s.") % {"name": locked.name, "already": already})
    return locked


def create_student(*, submission: CTASubmission, now: dt.datetime) -> tuple[User, bool]:
    """Create the student (no usable password) or link the account that has this email.

    An existing account is linked as it is: the public form proves nothing about who typed it,
    so its phone and WhatsApp consent never change an account (they would send that student's
    reminders and join links to a stranger's phone). The student adds a number themselves.
    """
    user = User.objects.select_for_update().filter(email__iexact=submission.email).first()
    if user is not None:
        return user, False
    user = User.objects.create_user(
        email=submission.email,
        password=None,  # unusable: the student chooses one through the emailed link
        name=submission.name,
        phone=submission.phone,
        whatsapp_opt_in=submission.whatsapp_opt_in and bool(submission.phone),
        language=submission.language,  # the language they filled the form in
        role=User.Role.STUDENT,
        date_joined=now,
    )
    if user.whatsapp_opt_in:  # given on the form, with its wording: when and how are kept
        record_whatsapp_consent(
            address=user.phone,
            category=WhatsAppConsent.Category.UTILITY,
            given=True,
            source=f"CTA form (submission {submission.pk} of {submission.created_at:%d %b %Y})",
            user=user,
            at=submission.created_at,
        )
    return user, True


def next_call_slot(*, staff: User, student_tz: str, now: dt.datetime) -> dt.datetime:
    """Return the next working-day slot in the student's zone when the staff member is free."""
    config = settings.WELCOME_CALL
    length = dt.timedelta(minutes=config["minutes"])
    first, last = dt.time.fromisoformat(config["first_slot"]), dt.time.fromisoformat(config["last_slot"])
    local_zone = zone(student_tz)
    day = now.astimezone(local_zone).date() + dt.timedelta(days=1)
    busy = list(
        WelcomeCall.objects.filter(
            assigned_to=staff, status=WelcomeCall.Status.SCHEDULED, scheduled_at__gte=now
        ).values_list("scheduled_at", "duration_minutes")
    )
    for _day in range(60):
        if day.isoweekday() in config["working_days"]:
            slot = dt.datetime.combine(day, first, tzinfo=local_zone)
            while slot.timetz().replace(tzinfo=None) <= last:
                if not any(
                    slot < start + dt.timedelta(minutes=minutes) and start < slot + length for start, minutes in busy
                ):
                    return slot.astimezone(dt.UTC)
                slot += length
        day += dt.timedelta(days=1)
    raise ValidationError("No free welcome-call slot in the next 60 days; check WELCOME_CALL settings.")


def schedule_welcome_call(*, user: User, staff: User, submission: CTASubmission, now: dt.datetime) -> WelcomeCall:
    """Book the welcome call with the approving staff member."""
    return WelcomeCall.objects.create(
        student=user,
        assigned_to=staff,
        submission=submission,
        scheduled_at=next_call_slot(staff=staff, student_tz=user.timezone, now=now),
        duration_minutes=settings.WELCOME_CALL["minutes"],
        created_at=now,
    )


def plan_welcome(*, user: User, call: WelcomeCall | None, submission: CTASubmission, now: dt.datetime):
    """Plan the Welcome Aboard email (set-password link, .ics when a call is booked) and WhatsApp."""
    context = link_context(user=user)
    if call is not None:
        context |= {
            "call_id": call.pk,
            "call_start": call.scheduled_at.isoformat(),
            "call_minutes": call.duration_minutes,
            "call_when": format_when(
                call.scheduled_at, tz=user.timezone, locale=reader_locale(language=user.language, locale=user.locale)
            ),
            "call_with": call.assigned_to.get_full_name(),
            "call_with_email": call.assigned_to.email,
        }
    return plan_messages(
        kind=messages.WELCOME.name,
        now=now,
        collect_ids=True,
        messages=[
            PlannedMessage(
                recipient=Recipient.for_user(user),
                event_key=str(submission.pk),
                context=context,
                subject_type=SUBMISSION,
                subject_id=submission.pk,
                link=reverse("lms:profile"),  # the in-app welcome leads to what to do first
            )
        ],
    )


def _staff_when(moment: dt.datetime, staff: User) -> str:
    """A moment in the staff member's zone and language (the one format of every message)."""
    return format_when(
        moment, tz=staff.timezone, locale=reader_locale(language=translation.get_language(), locale=staff.locale)
    )


def notify_staff(*, staff: User, user: User, submission: CTASubmission, summary: list[str], now: dt.datetime):
    """Tell the approving staff member what the onboarding did (in-app and email)."""
    admin_url = f"{settings.SITE_URL}{reverse('admin:leads_ctasubmission_change', args=[submission.pk])}"
    return plan_messages(
        kind=messages.CTA_APPROVED_STAFF.name,
        now=now,
        collect_ids=True,
        messages=[
            PlannedMessage(
                recipient=Recipient.for_user(staff),
                event_key=str(submission.pk),
                context={
                    "student_name": user.get_full_name(),
                    "student_email": user.email,
                    "summary": summary,
                    "admin_url": admin_url,
                },
                subject_type=SUBMISSION,
                subject_id=submission.pk,
                link=admin_url,
            )
        ],
    )


@transaction.atomic
def approve_cta_submission(
    *, submission: CTASubmission, approved_by: User, schedule_call: bool = False, now: dt.datetime | None = None
) -> OnboardingResult:
    """Approve a pending CTA submission and onboard the new student."""
    now = now or timezone.now()
    submission = lock_pending_submission(submission=submission)
    # The lines of the staff note (and result.steps) read in the approving staff member's language.
    with translation.override(staff_language(approved_by)):
        return _onboard(submission=submission, approved_by=approved_by, schedule_call=schedule_call, now=now)


def staff_language(staff: User) -> str:
    """The language a staff member reads the admin's notes in: theirs when the pages have it, else English."""
    return staff.language if staff.language in dict(settings.LANGUAGES) else "en"


def _onboard(*, submission: CTASubmission, approved_by: User, schedule_call: bool, now: dt.datetime):
    """Approve's steps, in order (the caller holds the lock and the language)."""
    user, created = create_student(submission=submission, now=now)
    result = OnboardingResult(submission=submission, user=user, user_created=created)
    verb = "Created the student account" if created else "Linked the existing account"
    _log(submission, Kind.USER_CREATED, f"{verb} {user.email}.", actor=approved_by, user=user, now=now)
    if not created and submission.phone and submission.phone != user.phone:
        result.steps.append(
            _("Kept the account's own phone number and WhatsApp choice (the form's number was not added)")
        )

    if schedule_call:
        result.call = schedule_welcome_call(user=user, staff=approved_by, submission=submission, now=now)
        when = format_when(result.call.scheduled_at, tz=approved_by.timezone, locale=approved_by.locale)
        _log(
            submission,
            Kind.CALL_SCHEDULED,
            f"Welcome call booked for {when}.",
            actor=approved_by,
            user=user,
            now=now,
            call_id=result.call.pk,
        )

    welcome = plan_welcome(user=user, call=result.call, submission=submission, now=now)
    result.delivery_ids += welcome.delivery_ids
    _log(
        submission,
        Kind.WELCOME_EMAIL,
        "Welcome email with a set-password link queued.",
        actor=approved_by,
        user=user,
        now=now,
    )
    if welcome.planned[Channel.WHATSAPP]:
        _log(
            submission,
            Kind.WELCOME_WHATSAPP,
            f"WhatsApp welcome queued to {user.phone}.",
            actor=approved_by,
            user=user,
            now=now,
        )
        result.steps.append(_("WhatsApp welcome to %(phone)s") % {"phone": user.phone})
    else:
        reason = _("no WhatsApp opt-in") if not user.whatsapp_opt_in else _("no valid phone number")
        result.steps.append(_("No WhatsApp welcome (%(reason)s)") % {"reason": reason})

    lead = track_lead_conversion(submission=submission, approved=True, now=now)
    if lead is not None:
        result.steps.append(_("Lead %(email)s counted as converted") % {"email": lead.email})

    submission.status = CTASubmission.Status.APPROVED
    submission.user = user
    submission.processed_by = approved_by
    submission.processed_at = now
    submission.save(update_fields=["status", "user", "processed_by", "processed_at"])
    _log(submission, Kind.APPROVED, f"Approved by {approved_by.email}.", actor=approved_by, user=user, now=now)

    account = _("Created the student account %(email)s") if created else _("Linked the existing account %(email)s")
    summary = [
        account % {"email": user.email},
        _("Welcome email with a set-password link"),
        *result.steps,
        *(
            [_("Welcome call on %(when)s") % {"when": _staff_when(result.call.scheduled_at, approved_by)}]
            if result.call
            else []
        ),
    ]
    staff_note = notify_staff(staff=approved_by, user=user, submission=submission, summary=summary, now=now)
    result.delivery_ids += staff_note.delivery_ids
    _log(submission, Kind.ADMIN_NOTIFIED, f"{approved_by.email} notified.", actor=approved_by, user=user, now=now)

    ids = list(result.delivery_ids)
    transaction.on_commit(lambda: dispatch_deliveries(ids=ids))  # nothing leaves before commit
    return result


@transaction.atomic
def reject_cta_submission(
    *, submission: CTASubmission, rejected_by: User, reason: str = "", now: dt.datetime | None = None
) -> CTASubmission:
    """Reject a pending submission and send a polite note (with the reason, if given)."""
    now = now or timezone.now()
    submission = lock_pending_submission(submission=submission)
    submission.status = CTASubmission.Status.REJECTED
    submission.processed_by = rejected_by
    submission.processed_at = now
    submission.rejection_reason = reason.strip()
    submission.save(update_fields=["status", "processed_by", "processed_at", "rejection_reason"])
    planned = plan_messages(
        kind=messages.CTA_REJECTED.name,
        now=now,
        collect_ids=True,
        messages=[
            PlannedMessage(
                recipient=Recipient(
                    user_id=None, email=submission.email, name=submission.name, language=submission.language
                ),
                event_key=str(submission.pk),
                context={"reason": submission.rejection_reason},
                subject_type=SUBMISSION,
                subject_id=submission.pk,
            )
        ],
    )
    _log(
        submission,
        Kind.REJECTED,
        f"Rejected by {rejected_by.email}" + (f": {reason}" if reason else "."),
        actor=rejected_by,
        now=now,
    )
    ids = list(planned.delivery_ids)
    transaction.on_commit(lambda: dispatch_deliveries(ids=ids))
    return submission
