"""Reads shared by pages and jobs."""

import datetime as dt

from django.db.models import Exists, OuterRef, Prefetch

from .models import Assignment, LiveSession, Payment, Recording, Submission, User


def student_dashboard(*, student: User, now: dt.datetime) -> dict:
    """Return what a student's dashboard shows: upcoming sessions, recordings, assignments, payments."""
    course_ids = list(student.enrollments.filter(is_active=True).values_list("course_id", flat=True))
    sessions = (
        LiveSession.objects.filter(
            course_id__in=course_ids, is_cancelled=False, scheduled_at__gte=now - dt.timedelta(hours=2)
        )
        .select_related("course")
        .order_by("scheduled_at")[:20]
    )
    recordings = (
        Recording.objects.filter(session__course_id__in=course_ids, visible_to_students=True)
        .select_related("session", "session__course")
        .order_by("-created_at")[:20]
    )
    assignments = (
        Assignment.objects.filter(course_id__in=course_ids)
        .select_related("course")
        .annotate(submitted=Exists(Submission.objects.filter(assignment=OuterRef("pk"), student=student)))
        .prefetch_related(Prefetch("submissions", queryset=Submission.objects.filter(student=student)))
        .order_by("deadline")[:50]
    )
    payments = Payment.objects.filter(student=student, status=Payment.Status.PENDING).order_by("created_at")
    return {"sessions": sessions, "recordings": recordings, "assignments": assignments, "payments": payments}
