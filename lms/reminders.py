"""
The rules that decide which reminders are due, planned into the delivery ledger.

Each rule decides from state ("the session is 24 h away or less, has not started, this
student has no row yet"), never from a narrow polling window, so a run after downtime
catches up and a student who enrolls late still gets theirs. The ledger's unique key makes
every rule safe to run twice, or from several processes at once. Each rule describes its
recipients as one query (notifications.services.audiences): what they share, such as a
session's time in each zone and locale, is formatted once per group, and the database plans
everyone in a few statements, so the number of queries never grows with recipients.
"""

import datetime as dt
import functools
import math

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, TextField, Value
from django.db.models.functions import Cast, Coalesce, Concat, NullIf
from django.urls import reverse

from common.formatting import format_money, format_when, zone
from notifications.api import Audience, Channel, Group, PlanResult, plan_audience, recipients_sent_about

from . import messages
from .calendar import session_calendar_context
from .conf import conf
from .holdout import not_held_out
from .incremental import FULL, Since, planning_run
from .models import (
    Assignment,
    Enrollment,
    LiveSession,
    Payment,
    Recording,
    SessionAttendance,
    SessionRsvp,
    Submission,
)
from .wanted import ASSIGNMENT, PAYMENT, SESSION, session_event_key

DAY_24H = dt.timedelta(hours=24)
NOT_UNDER = dt.timedelta(hours=1)  # the 15-minute reminder covers the last hour
SOON = dt.timedelta(minutes=15)
HOUR = dt.timedelta(hours=1)
LIVE_AFTER = dt.timedelta(minutes=5)  # "we're live, join now" goes this long after the start
ASSIGNMENT_WINDOW = dt.timedelta(hours=48)
RECORDING_NOTICE_DAYS = 7  # a recording published longer ago than this is not announced any more


# The recipient columns of an audience, from a row with a `student`.
STUDENT_COLUMNS = {
    "recipient_id": F("student_id"),
    "email": F("student__email"),
    "phone": F("student__phone"),
    "whatsapp_opt_in": F("student__whatsapp_opt_in"),
    "name": F("student__name"),
    "timezone": F("student__timezone"),
    "locale": F("student__locale"),
    "language": F("student__language"),
}


def _enrolled(*conditions, event: str, ids, **event_column):
    """One row per (event, active student enrolled in its course), for the events `ids` of the
    relation `event` of Course ("sessions", "assignments", ...); `event_column` names its id."""
    return Enrollment.objects.filter(
        *conditions, is_active=True, student__is_active=True, **{f"course__{event}__in": list(ids)}
    ).values(**STUDENT_COLUMNS, **event_column)


def site_link(name: str, *args) -> str:
    """Return the absolute URL of one of our pages."""
    return f"{settings.SITE_URL}{reverse(name, args=args)}"


def _day(moment: dt.datetime, now: dt.datetime, tz: str) -> dict:
    """Return the session's day as data, in `tz`: its local date and how many days away it is. The
    words ("Tomorrow", "कल", "on Thursday") are the reader's language's, made when the message is
    rendered (messages.session_day_words)."""
    local_zone = zone(tz)
    local_date = moment.astimezone(local_zone).date()
    return {
        "local_date": local_date.isoformat(),
        "days_away": (local_date - now.astimezone(local_zone).date()).days,
        "day_zone": local_zone.key,  # an in-app title says the day when it is read (session_day_words)
    }


def session_context(session: LiveSession, *, now: dt.datetime, tz: str, locale: str) -> dict:
    """What a session's reminder says (its "starting soon" step on the reach ladder too): the sending
    mints the student's tracked join link from `session_id`; the time is in the reader's zone."""
    return {
        "session_id": session.pk,
        "title": session.title,
        "course_title": session.course.title,
        "join_url": session.meeting_url,
        "scheduled_at": session.scheduled_at.isoformat(),
        "minutes_left": max(1, math.ceil((session.scheduled_at - now).total_seconds() / 60)),
        "when": format_when(session.scheduled_at, tz=tz, locale=locale),
        **_day(session.scheduled_at, now, tz),
    }


def _answered(*answers) -> Exists:
    """The student (of an enrollment row joined to its course's sessions) answered one of `answers`."""
    return Exists(
        SessionRsvp.objects.filter(
            session_id=OuterRef("course__sessions__id"), student_id=OuterRef("student_id"), answer__in=answers
        )
    )


def _joined(*, anyone: bool = False, session_column: str = "course__sessions__id") -> Exists:
    """The student (or, with `anyone`, any student) joined the session."""
    attended = SessionAttendance.objects.filter(session_id=OuterRef(session_column))
    return Exists(attended if anyone else attended.filter(student_id=OuterRef("student_id")))


# Planning one window is all-or-nothing; inside a run's transaction (lms.incremental) it takes no
# savepoint of its own (two statements fewer a call): nothing catches its errors to go on.
@transaction.atomic(savepoint=False)
def _plan_sessions(sessions, *, kind: str, now, dry_run, expiry, recipients=None, conditions=()) -> PlanResult:
    sessions = {session.pk: session for session in sessions.select_related("course")}
    # The 24-hour reminder and a moved session's notice carry a calendar invitation, in each
    # reader's language: made once per session and language.
    with_calendar = kind in (messages.SESSION_24H.name, messages.SESSION_MOVED.name)
    ask_rsvp = kind == messages.SESSION_24H.name
    calendars = {}

    def calendar_of(session, locale: str) -> dict:
        language = (locale or "en").split("_")[0]  # the reader's language in their region (hi_IN)
        if (session.pk, language) not in calendars:
            calendars[session.pk, language] = session_calendar_context(session, language=language)
        return calendars[session.pk, language]

    def make_group(row: dict) -> Group:
        session = sessions[row["session_id"]]
        return Group(
            event_key=session_event_key(session),
            subject_id=session.pk,
            expires_at=expiry(session),
            # In-app: the answer buttons on the day before, then the signed-in student's join door.
            link=site_link("lms:session_rsvp_mine" if ask_rsvp else "lms:session_join_mine", session.pk),
            context={
                **(calendar_of(session, row["locale"]) if with_calendar else {}),
                **({"ask_rsvp": True} if ask_rsvp else {}),  # sending mints the RSVP links
                **session_context(session, now=now, tz=row["timezone"], locale=row["locale"]),
            },
        )

    conditions = [*conditions] + ([] if recipients is None else [Q(student_id__in=recipients)])
    audience = Audience(
        rows=_enrolled(*conditions, event="sessions", ids=sessions, session_id=F("course__sessions__id")),
        group_by=("session_id", "timezone", "locale"),
        make_group=make_group,
        subject_type=SESSION,
        row_context={"student_id": "recipient_id"},
    )
    return plan_audience(kind=kind, audience=audience, now=now, dry_run=dry_run)


def plan_session_reminders_24h(*, now: dt.datetime, dry_run: bool = False) -> PlanResult:
    """Plan "Starts Tomorrow" for sessions 24 h away or less, but not under 1 h away; and "New time"
    to those told an earlier time of a session that moved further out. A scheduled run plans what
    changed since the last one (lms.incremental)."""
    with planning_run("session_reminders_24h", now=now, dry_run=dry_run) as since:
        sessions = LiveSession.objects.filter(
            is_cancelled=False, scheduled_at__gt=now + NOT_UNDER, scheduled_at__lte=now + DAY_24H
        )
        result = _plan_changed_sessions(
            sessions,
            since,
            # A session whose start entered the window since the last run.
            opened=None if since.full else Q(scheduled_at__gt=since.planned_through + DAY_24H),
            kind=messages.SESSION_24H.name,
            now=now,
            dry_run=dry_run,
            expiry=lambda session: session.scheduled_at - NOT_UNDER,
        )
        return result.merge(plan_session_moved_notices(now=now, dry_run=dry_run, since=since))


def _plan_changed_sessions(sessions, since: Since, *, opened, conditions=(), **plan) -> PlanResult:
    """Plan the `sessions` (a window) whole on a full run; else those changed or `opened` since the last
    run whole, and the others to their changed enrollments only (nothing when none changed)."""
    if since.full:
        return _plan_sessions(sessions, conditions=conditions, **plan)
    subjects = since.subjects(opened=opened)
    result = _plan_sessions(sessions.filter(subjects), conditions=conditions, **plan)
    if since.any_enrollment_changed():
        others = sessions.exclude(subjects)
        result.merge(_plan_sessions(others, conditions=[*conditions, since.enrollments()], **plan))
    return result


def plan_session_moved_notices(*, now: dt.datetime, dry_run: bool = False, since: Since = FULL) -> PlanResult:
    """Plan "New time" (with the updated invitation) for a moved session more than 24 h away, to the
    students whose calendar holds an earlier time: those sent its 24-hour reminder or an earlier notice.

    Within 24 h of the new time the new 24-hour reminder carries the updated invitation itself.
    """
    result = PlanResult()
    moved = LiveSession.objects.filter(is_cancelled=False, sequence__gt=0, scheduled_at__gt=now + DAY_24H)
    if not since.full:
        moved = moved.filter(since.subjects())  # moved since the last run (its 24 h reminders are sent)
    for session in moved.select_related("course"):
        key = session_event_key(session)
        told_earlier = recipients_sent_about(
            kinds=[messages.SESSION_24H.name, messages.SESSION_MOVED.name],
            channel=Channel.EMAIL,
            subject_type=SESSION,
            subject_id=session.pk,
            except_event_key_ending=f":{key}",
        )
        result.merge(
            _plan_sessions(
                LiveSession.objects.filter(pk=session.pk),
                kind=messages.SESSION_MOVED.name,
                now=now,
                dry_run=dry_run,
                expiry=lambda session: session.scheduled_at,
                recipients=told_earlier,
            )
        )
    return result


def plan_session_reminders_15min(*, now: dt.datetime, dry_run: bool = False) -> PlanResult:
    """Plan "Starting Soon" for sessions 15 minutes away or less that have not started, except to
    students who said they can't make it; and, in the same run, the reminders an hour before for
    those who asked, and "we're live" after the start (plan_session_reminders_1h, plan_live_nudges)."""
    sessions = LiveSession.objects.filter(is_cancelled=False, scheduled_at__gt=now, scheduled_at__lte=now + SOON)
    result = plan_starting_soon(sessions, now=now, dry_run=dry_run)
    result.merge(plan_session_reminders_1h(now=now, dry_run=dry_run))
    return result.merge(plan_live_nudges(now=now, dry_run=dry_run))


def plan_starting_soon(sessions, *, now: dt.datetime, dry_run: bool = False, recipients=None) -> PlanResult:
    """Plan "Starting Soon" for `sessions` (to `recipients` only, when given), except to students who
    said they can't make it. The reach ladder calls it too before deciding, so a ladder step never
    goes beside a reminder that is due but not planned yet (the 15-minute job runs every 5 minutes)."""
    return _plan_sessions(
        sessions,
        kind=messages.SESSION_15MIN.name,
        now=now,
        dry_run=dry_run,
        expiry=lambda session: session.scheduled_at,
        recipients=recipients,
        conditions=[~_answered(SessionRsvp.Answer.NO)],
    )


def plan_session_reminders_1h(*, now: dt.datetime, dry_run: bool = False) -> PlanResult:
    """Plan "In an hour" for sessions an hour away or less (and more than 15 minutes: the starting-soon
    reminder's turn), to the students who tapped "Remind me 1 h before"."""
    sessions = LiveSession.objects.filter(is_cancelled=False, scheduled_at__gt=now + SOON, scheduled_at__lte=now + HOUR)
    return _plan_sessions(
        sessions,
        kind=messages.SESSION_1H.name,
        now=now,
        dry_run=dry_run,
        expiry=lambda session: session.scheduled_at - SOON,
        conditions=[_answered(SessionRsvp.Answer.REMIND_1H)],
    )


def plan_live_nudges(*, now: dt.datetime, dry_run: bool = False) -> PlanResult:
    """Plan "We're live, join now" from 5 minutes after a session's start until LIVE_NUDGE_MINUTES after
    it (never later), to the students who have not joined and did not say they can't make it (and are
    not in the hold-out)."""
    latest = dt.timedelta(minutes=conf.live_nudge_minutes)
    sessions = LiveSession.objects.filter(
        is_cancelled=False, scheduled_at__lte=now - LIVE_AFTER, scheduled_at__gt=now - latest
    )
    return _plan_sessions(
        sessions,
        kind=messages.SESSION_LIVE.name,
        now=now,
        dry_run=dry_run,
        expiry=lambda session: session.scheduled_at + latest,
        # Not to the hold-out either (lms.holdout): the nudge's uplift is measured against them.
        conditions=[
            ~_answered(SessionRsvp.Answer.NO),
            ~_joined(),
            *not_held_out(sessions.values_list("course_id", flat=True)),
        ],
    )


def plan_recording_notifications(*, now: dt.datetime, dry_run: bool = False) -> PlanResult:
    """Plan, once per recording, "You missed it, here is the recording" to the enrolled students who
    missed the session and "Recording Available" to the others.

    A student missed it who did not join while others did (attendance was taken), or who said they
    can't make it; with no attendance at all (not tracked), everyone gets the usual notice. A scheduled
    run plans the recordings changed or made visible since the last one, and the others to their
    changed enrollments (lms.incremental)."""
    with planning_run("recording_notifications", now=now, dry_run=dry_run) as since:
        window = (
            Recording.objects.filter(visible_to_students=True)
            .annotate(visible_since=Coalesce("published_at", "created_at"))
            .filter(visible_since__gte=now - dt.timedelta(days=RECORDING_NOTICE_DAYS), visible_since__lte=now)
        )
        if since.full:
            return _plan_recordings(window, now=now, dry_run=dry_run)
        subjects = since.subjects(opened=Q(visible_since__gt=since.planned_through))
        result = _plan_recordings(window.filter(subjects), now=now, dry_run=dry_run)
        if since.any_enrollment_changed():
            result.merge(_plan_recordings(window.exclude(subjects), now=now, dry_run=dry_run, since=since))
        return result


@transaction.atomic(savepoint=False)
def _plan_recordings(window, *, now: dt.datetime, dry_run: bool, since: Since = FULL) -> PlanResult:
    """Plan the notices of the recordings `window` (to the enrollments changed `since`, unless full)."""
    recordings = {recording.pk: recording for recording in window.select_related("session", "session__course")}
    if not recordings:
        return PlanResult()
    only = () if since.full else (since.enrollments(),)
    dashboard_url = site_link("lms:dashboard")

    def make_group(row: dict, missed: bool = False) -> Group:
        recording = recordings[row["recording_id"]]
        return Group(
            event_key=str(recording.pk),
            subject_id=recording.pk,
            # In-app, a no-show's notice opens the recording through the signed-in student's tracked door.
            link=site_link("lms:session_watch_mine", recording.session_id) if missed else recording.url,
            context={
                "session_id": recording.session_id,
                "session_title": recording.session.title,
                "course_title": recording.session.course.title,
                "watch_url": recording.url,
                "dashboard_url": dashboard_url,
            },
        )

    no = SessionRsvp.Answer.NO
    session = "course__sessions__id"
    missed = (_joined(anyone=True, session_column=session) | _answered(no)) & ~_joined(session_column=session)
    came_or_unknown = _joined(session_column=session) | (~_joined(anyone=True, session_column=session) & ~_answered(no))
    result = PlanResult()
    for kind, condition in ((messages.RECORDING_MISSED, missed), (messages.RECORDING_AVAILABLE, came_or_unknown)):
        audience = Audience(
            rows=_enrolled(
                condition,
                *only,
                event="sessions__recordings",
                ids=recordings,
                recording_id=F("course__sessions__recordings__id"),
            ),
            group_by=("recording_id",),
            make_group=functools.partial(make_group, missed=kind is messages.RECORDING_MISSED),
            subject_type=Recording._meta.label_lower,
            row_context={"student_id": "recipient_id"},
        )
        result.merge(plan_audience(kind=kind.name, audience=audience, now=now, dry_run=dry_run))
    return result


def plan_assignment_reminders(*, now: dt.datetime, dry_run: bool = False) -> PlanResult:
    """Plan "Assignment Due Soon" to enrolled students who have not submitted, deadline within 48 h.
    A scheduled run plans the assignments changed or newly within 48 h since the last one, and the
    others to their changed enrollments (lms.incremental)."""
    with planning_run("assignment_reminders", now=now, dry_run=dry_run) as since:
        window = Assignment.objects.filter(deadline__gt=now, deadline__lte=now + ASSIGNMENT_WINDOW)
        if since.full:
            return _plan_assignments(window, now=now, dry_run=dry_run)
        subjects = since.subjects(opened=Q(deadline__gt=since.planned_through + ASSIGNMENT_WINDOW))
        result = _plan_assignments(window.filter(subjects), now=now, dry_run=dry_run)
        if since.any_enrollment_changed():
            result.merge(_plan_assignments(window.exclude(subjects), now=now, dry_run=dry_run, since=since))
        return result


@transaction.atomic(savepoint=False)
def _plan_assignments(window, *, now: dt.datetime, dry_run: bool, since: Since = FULL) -> PlanResult:
    assignments = {assignment.pk: assignment for assignment in window.select_related("course")}
    if not assignments:
        return PlanResult()
    only = () if since.full else (since.enrollments(),)
    not_submitted = ~Exists(
        Submission.objects.filter(assignment_id=OuterRef("course__assignments__id"), student_id=OuterRef("student_id"))
    )

    def make_group(row: dict) -> Group:
        assignment = assignments[row["assignment_id"]]
        submit_url = site_link("lms:assignment", assignment.pk)
        return Group(
            event_key=str(assignment.pk),
            subject_id=assignment.pk,
            expires_at=assignment.deadline,
            link=submit_url,
            context={
                "title": assignment.title,
                "course_title": assignment.course.title,
                "deadline": format_when(assignment.deadline, tz=row["timezone"], locale=row["locale"]),
                "submit_url": submit_url,
            },
        )

    audience = Audience(
        # The submission check sits in the same filter() as the join, so it refers to the same assignment.
        rows=_enrolled(
            not_submitted, *only, event="assignments", ids=assignments, assignment_id=F("course__assignments__id")
        ),
        group_by=("assignment_id", "timezone", "locale"),
        make_group=make_group,
        subject_type=ASSIGNMENT,
    )
    return plan_audience(kind=messages.ASSIGNMENT_DUE.name, audience=audience, now=now, dry_run=dry_run)


def plan_payment_reminders(*, now: dt.datetime, dry_run: bool = False) -> PlanResult:
    """Plan "Payment Reminder" for payments pending 3+ days, one per cadence step (default: once). A
    scheduled run plans the payments changed or newly at a step since the last one (lms.incremental)."""
    with planning_run("payment_reminders", now=now, dry_run=dry_run) as since:
        return _plan_payments(now=now, dry_run=dry_run, since=since)


def _plan_payments(*, now: dt.datetime, dry_run: bool, since: Since) -> PlanResult:
    kind = messages.PAYMENT_REMINDER.name
    steps = sorted(set(conf.payment_reminder_days))
    payment_url = Coalesce(NullIf("payment_url", Value("")), Value(site_link("lms:dashboard")))

    def make_group(row: dict) -> Group:
        return Group(context={"amount": format_money(row["amount"], row["currency"], locale=row["locale"])})

    result = PlanResult()
    # A payment is reminded for the latest step it has reached only: after downtime a 20-day-old
    # payment gets one reminder, not three.
    for index, day in enumerate(steps):
        window = Q(status=Payment.Status.PENDING, created_at__lte=now - dt.timedelta(days=day))
        if index + 1 < len(steps):
            window &= Q(created_at__gt=now - dt.timedelta(days=steps[index + 1]))
        if not since.full:
            opened = Q(created_at__gt=since.planned_through - dt.timedelta(days=day))
            window &= since.subjects(opened=opened) | since.students()
        rows = Payment.objects.filter(window, student__is_active=True).values(
            "amount",
            "currency",
            "description",
            **STUDENT_COLUMNS,
            event_key=Concat(Cast("pk", output_field=TextField()), Value(f":d{day}"), output_field=TextField()),
            subject_id=F("pk"),
            link=payment_url,
            course_title=Coalesce("course__title", Value("")),
        )
        audience = Audience(
            rows=rows,
            group_by=("amount", "currency", "locale"),
            make_group=make_group,
            subject_type=PAYMENT,
            row_context={"description": "description", "payment_url": "link", "course_title": "course_title"},
        )
        result.merge(plan_audience(kind=kind, audience=audience, now=now, dry_run=dry_run))
    return result
