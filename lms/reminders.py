"""
The rules that decide which reminders are due, planned into the delivery ledger.

Each rule decides from state ("the session is 24 h away or less, has not started, this
student has no row yet"), never from a narrow polling window, so a run after downtime
catches up and a student who enrolls late still gets theirs. The ledger's unique key makes
every rule safe to run twice, or from several processes at once. Each rule plans in a number
of queries that grows with the number of sessions (or steps), never with recipients, and
streams recipients in bounded memory.
"""

import datetime as dt
import math
from collections.abc import Iterator

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Coalesce
from django.urls import reverse

from notifications.formatting import format_money, format_when, zone
from notifications.models import Delivery
from notifications.services.planning import PlannedMessage, PlanResult, Recipient, already_planned, plan_messages

from . import messages
from .models import Assignment, Enrollment, LiveSession, Payment, Recording, Submission

DAY_24H = dt.timedelta(hours=24)
NOT_UNDER = dt.timedelta(hours=1)  # the 15-minute reminder covers the last hour
SOON = dt.timedelta(minutes=15)
ASSIGNMENT_WINDOW = dt.timedelta(hours=48)
RECORDING_NOTICE_DAYS = 7  # a recording published longer ago than this is not announced any more
STREAM_CHUNK = 2000

STUDENT_FIELDS = (
    "student_id",
    "student__email",
    "student__phone",
    "student__whatsapp_opt_in",
    "student__name",
    "student__timezone",
    "student__locale",
)


def site_link(name: str, *args) -> str:
    """Return the absolute URL of one of our pages."""
    return f"{settings.SITE_URL}{reverse(name, args=args)}"


def _recipient(row: dict) -> Recipient:
    return Recipient(
        user_id=row["student_id"],
        email=row["student__email"],
        phone=row["student__phone"],
        whatsapp_opt_in=row["student__whatsapp_opt_in"],
        name=row["student__name"],
        timezone=row["student__timezone"],
        locale=row["student__locale"],
    )


def _students_to_plan(*, course_id: int, kind: str, event_key: str, extra: Q | None = None) -> Iterator[dict]:
    """Stream the active students of a course who have no row for this event yet."""
    enrollments = Enrollment.objects.filter(course_id=course_id, is_active=True, student__is_active=True)
    if extra is not None:
        enrollments = enrollments.filter(extra)
    return (
        enrollments.exclude(already_planned(kind=kind, event_key=event_key, recipient=OuterRef("student_id")))
        .order_by()
        .values(*STUDENT_FIELDS)
        .iterator(chunk_size=STREAM_CHUNK)
    )


def session_event_key(session: LiveSession) -> str:
    """A session's reminders are keyed by its time: rescheduling re-arms them."""
    return f"{session.pk}@{session.scheduled_at.astimezone(dt.UTC):%Y%m%dT%H%M%S}"


def _day_words(moment: dt.datetime, now: dt.datetime, tz: str) -> tuple[str, str]:
    """Return ("Tomorrow", "tomorrow"), ("Today", "today") or ("Thursday", "on Thursday") in `tz`."""
    local_zone = zone(tz)
    days = (moment.astimezone(local_zone).date() - now.astimezone(local_zone).date()).days
    if days == 0:
        return "Today", "today"
    if days == 1:
        return "Tomorrow", "tomorrow"
    weekday = moment.astimezone(local_zone).strftime("%A")
    return weekday, f"on {weekday}"


def _session_messages(session, kind: str, now: dt.datetime, expires_at: dt.datetime) -> Iterator[PlannedMessage]:
    event_key = session_event_key(session)
    formatted: dict[tuple[str, str], dict] = {}  # Babel is slow: once per zone and locale
    minutes_left = max(1, math.ceil((session.scheduled_at - now).total_seconds() / 60))
    for row in _students_to_plan(course_id=session.course_id, kind=kind, event_key=event_key):
        recipient = _recipient(row)
        key = (recipient.timezone, recipient.locale)
        if key not in formatted:
            day_label, day_phrase = _day_words(session.scheduled_at, now, recipient.timezone)
            formatted[key] = {
                "when": format_when(session.scheduled_at, tz=recipient.timezone, locale=recipient.locale),
                "day_label": day_label,
                "day_phrase": day_phrase,
            }
        yield PlannedMessage(
            recipient=recipient,
            event_key=event_key,
            context={
                "title": session.title,
                "course_title": session.course.title,
                "join_url": session.meeting_url,
                "scheduled_at": session.scheduled_at.isoformat(),
                "minutes_left": minutes_left,
                **formatted[key],
            },
            subject_type="lms.livesession",
            subject_id=session.pk,
            link=session.meeting_url,
            expires_at=expires_at,
        )


def _plan_sessions(sessions, *, kind: str, now, dry_run, expiry) -> PlanResult:
    result = PlanResult()
    for session in sessions.select_related("course").order_by("scheduled_at"):
        with transaction.atomic():
            messages_ = _session_messages(session, kind, now, expires_at=expiry(session))
            result.merge(plan_messages(kind=kind, messages=messages_, now=now, dry_run=dry_run))
    return result


def plan_session_reminders_24h(*, now: dt.datetime, dry_run: bool = False) -> PlanResult:
    """Plan "Starts Tomorrow" for sessions 24 h away or less, but not under 1 h away."""
    sessions = LiveSession.objects.filter(
        is_cancelled=False, scheduled_at__gt=now + NOT_UNDER, scheduled_at__lte=now + DAY_24H
    )
    return _plan_sessions(
        sessions,
        kind=messages.SESSION_24H.name,
        now=now,
        dry_run=dry_run,
        expiry=lambda session: session.scheduled_at - NOT_UNDER,
    )


def plan_session_reminders_15min(*, now: dt.datetime, dry_run: bool = False) -> PlanResult:
    """Plan "Starting Soon" for sessions 15 minutes away or less that have not started."""
    sessions = LiveSession.objects.filter(is_cancelled=False, scheduled_at__gt=now, scheduled_at__lte=now + SOON)
    return _plan_sessions(
        sessions,
        kind=messages.SESSION_15MIN.name,
        now=now,
        dry_run=dry_run,
        expiry=lambda session: session.scheduled_at,
    )


def plan_recording_notifications(*, now: dt.datetime, dry_run: bool = False) -> PlanResult:
    """Plan "Recording Available" to every enrolled student, once per recording."""
    kind = messages.RECORDING_AVAILABLE.name
    recordings = (
        Recording.objects.filter(visible_to_students=True)
        .annotate(visible_since=Coalesce("published_at", "created_at"))
        .filter(visible_since__gte=now - dt.timedelta(days=RECORDING_NOTICE_DAYS), visible_since__lte=now)
        .select_related("session", "session__course")
        .order_by("visible_since")
    )
    dashboard_url = site_link("lms:dashboard")
    result = PlanResult()
    for recording in recordings:
        event_key = str(recording.pk)
        session = recording.session

        def planned(recording=recording, session=session, event_key=event_key):
            for row in _students_to_plan(course_id=session.course_id, kind=kind, event_key=event_key):
                yield PlannedMessage(
                    recipient=_recipient(row),
                    event_key=event_key,
                    context={
                        "session_title": session.title,
                        "course_title": session.course.title,
                        "watch_url": recording.url,
                        "dashboard_url": dashboard_url,
                    },
                    subject_type="lms.recording",
                    subject_id=recording.pk,
                    link=recording.url,
                )

        with transaction.atomic():
            result.merge(plan_messages(kind=kind, messages=planned(), now=now, dry_run=dry_run))
    return result


def plan_assignment_reminders(*, now: dt.datetime, dry_run: bool = False) -> PlanResult:
    """Plan "Assignment Due Soon" to enrolled students who have not submitted, deadline within 48 h."""
    kind = messages.ASSIGNMENT_DUE.name
    assignments = Assignment.objects.filter(deadline__gt=now, deadline__lte=now + ASSIGNMENT_WINDOW).select_related(
        "course"
    )
    result = PlanResult()
    for assignment in assignments.order_by("deadline"):
        event_key = str(assignment.pk)
        submit_url = site_link("lms:assignment", assignment.pk)
        not_submitted = ~Exists(
            Submission.objects.filter(assignment_id=assignment.pk, student_id=OuterRef("student_id"))
        )

        def planned(assignment=assignment, event_key=event_key, submit_url=submit_url, not_submitted=not_submitted):
            deadlines: dict[tuple[str, str], str] = {}
            rows = _students_to_plan(
                course_id=assignment.course_id, kind=kind, event_key=event_key, extra=not_submitted
            )
            for row in rows:
                recipient = _recipient(row)
                key = (recipient.timezone, recipient.locale)
                if key not in deadlines:
                    deadlines[key] = format_when(assignment.deadline, tz=recipient.timezone, locale=recipient.locale)
                yield PlannedMessage(
                    recipient=recipient,
                    event_key=event_key,
                    context={
                        "title": assignment.title,
                        "course_title": assignment.course.title,
                        "deadline": deadlines[key],
                        "submit_url": submit_url,
                    },
                    subject_type="lms.assignment",
                    subject_id=assignment.pk,
                    link=submit_url,
                    expires_at=assignment.deadline,
                )

        with transaction.atomic():
            result.merge(plan_messages(kind=kind, messages=planned(), now=now, dry_run=dry_run))
    return result


def plan_payment_reminders(*, now: dt.datetime, dry_run: bool = False) -> PlanResult:
    """Plan "Payment Reminder" for payments pending 3+ days, one per cadence step (default: once)."""
    kind = messages.PAYMENT_REMINDER.name
    steps = sorted(set(settings.PAYMENT_REMINDER_DAYS))
    result = PlanResult()
    # A payment is reminded for the latest step it has reached only: after downtime a 20-day-old
    # payment gets one reminder, not three.
    for index, day in enumerate(steps):
        window = Q(status=Payment.Status.PENDING, created_at__lte=now - dt.timedelta(days=day))
        if index + 1 < len(steps):
            window &= Q(created_at__gt=now - dt.timedelta(days=steps[index + 1]))
        event_suffix = f"d{day}"

        def planned(window=window, event_suffix=event_suffix):
            payments = (
                Payment.objects.filter(window, student__is_active=True)
                .exclude(
                    Exists(
                        Delivery.objects.filter(
                            subject_type="lms.payment",
                            subject_id=OuterRef("pk"),
                            kind=kind,
                            event_key__endswith=f":{event_suffix}",
                        )
                    )
                )
                .order_by()
                .values("pk", "amount", "currency", "description", "payment_url", *STUDENT_FIELDS)
                .iterator(chunk_size=STREAM_CHUNK)
            )
            for row in payments:
                recipient = _recipient(row)
                yield PlannedMessage(
                    recipient=recipient,
                    event_key=f"{row['pk']}:{event_suffix}",
                    context={
                        "amount": format_money(row["amount"], row["currency"], locale=recipient.locale),
                        "description": row["description"],
                        "payment_url": row["payment_url"] or site_link("lms:dashboard"),
                    },
                    subject_type="lms.payment",
                    subject_id=row["pk"],
                    link=row["payment_url"] or site_link("lms:dashboard"),
                )

        with transaction.atomic():
            result.merge(plan_messages(kind=kind, messages=planned(), now=now, dry_run=dry_run))
    return result


# --- Asked by the dispatcher just before sending (MessageKind.still_wanted) -------------------


def unwanted_session_reminders(deliveries) -> dict[int, str]:
    """Reminders for sessions that were cancelled or moved since they were planned."""
    deliveries = [d for d in deliveries if d.subject_type == "lms.livesession"]
    sessions = LiveSession.objects.in_bulk({d.subject_id for d in deliveries})
    unwanted = {}
    for delivery in deliveries:
        session = sessions.get(delivery.subject_id)
        if session is None or session.is_cancelled:
            unwanted[delivery.pk] = "session_cancelled"
        elif not delivery.event_key.endswith(session_event_key(session)):
            unwanted[delivery.pk] = "session_rescheduled"
    return unwanted


def unwanted_assignment_reminders(deliveries) -> dict[int, str]:
    """Reminders to students who have submitted since they were planned."""
    deliveries = [d for d in deliveries if d.subject_type == "lms.assignment"]
    submitted = set(
        Submission.objects.filter(
            assignment_id__in={d.subject_id for d in deliveries}, student_id__in={d.recipient_id for d in deliveries}
        ).values_list("assignment_id", "student_id")
    )
    return {d.pk: "already_submitted" for d in deliveries if (d.subject_id, d.recipient_id) in submitted}


def unwanted_payment_reminders(deliveries) -> dict[int, str]:
    """Reminders for payments that are no longer pending (paid, failed, refunded)."""
    deliveries = [d for d in deliveries if d.subject_type == "lms.payment"]
    pending = set(
        Payment.objects.filter(pk__in={d.subject_id for d in deliveries}, status=Payment.Status.PENDING).values_list(
            "pk", flat=True
        )
    )
    return {d.pk: "payment_settled" for d in deliveries if d.subject_id not in pending}
