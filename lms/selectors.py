"""Reads shared by pages and jobs."""

import datetime as dt

from django.db.models import F, Prefetch
from django.utils.translation import gettext_lazy as _

from common.formatting import format_money, format_when, reader_locale

from .models import Assignment, Course, LiveSession, Payment, Recording, Submission, User

# A session's join link is made prominent from this long before it starts until it ends.
JOIN_SOON = dt.timedelta(minutes=15)
# Assignments whose deadline passed longer ago than this drop off the dashboard.
ASSIGNMENTS_SHOWN_AFTER_DEADLINE = dt.timedelta(days=30)
DUE_SOON = dt.timedelta(hours=48)


def student_dashboard(*, student: User, now: dt.datetime) -> dict:
    """Return what a student's dashboard shows: upcoming sessions, recordings, assignments, payments.

    Times and amounts come formatted in the student's time zone and locale, as their messages are.
    """
    tz, locale = student.timezone, reader_locale(language=student.language, locale=student.locale)
    course_ids = list(student.enrollments.filter(is_active=True).values_list("course_id", flat=True))

    sessions = []
    upcoming = LiveSession.objects.filter(
        course_id__in=course_ids, is_cancelled=False, scheduled_at__gte=now - dt.timedelta(hours=6)
    )
    for session in upcoming.select_related("course").order_by("scheduled_at")[:20]:
        ends_at = session.scheduled_at + dt.timedelta(minutes=session.duration_minutes)
        if ends_at <= now:
            continue
        session.when = format_when(session.scheduled_at, tz=tz, locale=locale)
        session.is_live = session.scheduled_at <= now
        session.starts_soon = session.scheduled_at - now <= JOIN_SOON
        session.minutes_left = max(1, round((session.scheduled_at - now).total_seconds() / 60))
        sessions.append(session)

    recordings = (
        Recording.objects.filter(session__course_id__in=course_ids, visible_to_students=True)
        .select_related("session", "session__course")
        .order_by(F("published_at").desc(nulls_last=True), "-created_at")[:20]
    )

    assignments = []
    recent = Assignment.objects.filter(course_id__in=course_ids, deadline__gte=now - ASSIGNMENTS_SHOWN_AFTER_DEADLINE)
    for assignment in (
        recent.select_related("course")
        .prefetch_related(Prefetch("submissions", queryset=Submission.objects.filter(student=student), to_attr="mine"))
        .order_by("deadline")[:50]
    ):
        _describe_assignment(assignment, submission=next(iter(assignment.mine), None), now=now, tz=tz, locale=locale)
        assignments.append(assignment)

    payments = list(Payment.objects.filter(student=student, status=Payment.Status.PENDING).order_by("created_at"))
    for payment in payments:
        payment.amount_display = format_money(payment.amount, payment.currency, locale=locale)

    return {
        "sessions": sessions,
        "next_session_soon": next((s for s in sessions if s.starts_soon), None),
        "recordings": recordings,
        "assignments": assignments,
        "payments": payments,
    }


def get_student_assignment(*, student: User, assignment_id: int, now: dt.datetime) -> Assignment:
    """Return an assignment of a course the student is enrolled in, with their submission (or DoesNotExist)."""
    assignment = (
        Assignment.objects.select_related("course")
        .filter(course__enrollments__student=student, course__enrollments__is_active=True)
        .get(pk=assignment_id)
    )
    submission = Submission.objects.filter(assignment=assignment, student=student).first()
    locale = reader_locale(language=student.language, locale=student.locale)
    _describe_assignment(assignment, submission=submission, now=now, tz=student.timezone, locale=locale)
    return assignment


def _describe_assignment(assignment, *, submission, now, tz: str, locale: str) -> None:
    """Set what pages show about an assignment for one student: deadline, their submission, a status."""
    assignment.submission = submission
    assignment.due = format_when(assignment.deadline, tz=tz, locale=locale)
    if submission is not None:
        assignment.submitted_when = format_when(submission.submitted_at, tz=tz, locale=locale)
        assignment.status, assignment.status_label = "submitted", _("Submitted")
    elif assignment.deadline <= now:
        assignment.status, assignment.status_label = "overdue", _("Overdue")
    elif assignment.deadline - now <= DUE_SOON:
        assignment.status, assignment.status_label = "due-soon", _("Due soon")
    else:
        assignment.status, assignment.status_label = "open", _("Not submitted")


RECORDINGS_PER_COURSE = 10


def student_courses(*, student: User, now: dt.datetime) -> list[Course]:
    """Return the courses a student is enrolled in, each with its next session, recordings and assignments.

    Five queries whatever the number of courses; times in the student's zone and locale.
    """
    tz, locale = student.timezone, reader_locale(language=student.language, locale=student.locale)
    enrollments = student.enrollments.filter(is_active=True).select_related("course").order_by("course__title")
    courses = {}
    for enrollment in enrollments:
        course = enrollment.course
        course.enrolled_since = format_when(enrollment.enrolled_at, tz=tz, locale=locale)
        course.next_session, course.materials, course.course_assignments = None, [], []
        courses[course.pk] = course
    if not courses:
        return []
    _add_next_sessions(courses, now=now, tz=tz, locale=locale)
    _add_recordings(courses, tz=tz, locale=locale)
    recent = Assignment.objects.filter(course_id__in=courses, deadline__gte=now - ASSIGNMENTS_SHOWN_AFTER_DEADLINE)
    for assignment in recent.prefetch_related(
        Prefetch("submissions", queryset=Submission.objects.filter(student=student), to_attr="mine")
    ).order_by("deadline"):
        _describe_assignment(assignment, submission=next(iter(assignment.mine), None), now=now, tz=tz, locale=locale)
        courses[assignment.course_id].course_assignments.append(assignment)
    return list(courses.values())


def _add_next_sessions(courses: dict[int, Course], *, now: dt.datetime, tz: str, locale: str) -> None:
    """Give each course its next session not over yet (live now or to come), or leave it None."""
    waiting = set(courses)
    upcoming = LiveSession.objects.filter(
        course_id__in=courses, is_cancelled=False, scheduled_at__gte=now - dt.timedelta(hours=6)
    ).order_by("scheduled_at")
    for session in upcoming.iterator(chunk_size=100):
        if session.course_id not in waiting:
            continue
        if session.scheduled_at + dt.timedelta(minutes=session.duration_minutes) <= now:
            continue
        session.when = format_when(session.scheduled_at, tz=tz, locale=locale)
        session.is_live = session.scheduled_at <= now
        session.starts_soon = session.scheduled_at - now <= JOIN_SOON
        courses[session.course_id].next_session = session
        waiting.discard(session.course_id)
        if not waiting:
            break


def _add_recordings(courses: dict[int, Course], *, tz: str, locale: str) -> None:
    """Give each course its latest recordings students may see (RECORDINGS_PER_COURSE at most)."""
    recordings = (
        Recording.objects.filter(session__course_id__in=courses, visible_to_students=True)
        .select_related("session")
        .order_by(F("published_at").desc(nulls_last=True), "-created_at")
    )
    for recording in recordings.iterator(chunk_size=200):
        materials = courses[recording.session.course_id].materials
        if len(materials) < RECORDINGS_PER_COURSE:
            recording.when = format_when(recording.session.scheduled_at, tz=tz, locale=locale)
            materials.append(recording)
