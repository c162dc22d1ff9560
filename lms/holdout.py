"""
The hold-out: a stable share of students (REACH_HOLDOUT_PERCENT, per student and course) who get no
escalation (lms.reach) and no live nudge (reminders.plan_live_nudges), so that what the ladder and
the nudge add is measured against them (session_figures), not assumed.
"""

import hashlib

from django.db.models import Q

from .conf import conf
from .models import Enrollment


def held_out(student_id: int, course_id: int, *, percent: int | None = None) -> bool:
    """Whether this student is in the course's hold-out: the same answer on every run and machine."""
    percent = conf.reach_holdout_percent if percent is None else percent
    if percent <= 0:
        return False
    digest = hashlib.sha256(f"reach-holdout:{course_id}:{student_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < percent


def held_out_students(course_id: int, students) -> set[int]:
    """The students of `students` in the course's hold-out."""
    return {student for student in students if held_out(student, course_id)}


def not_held_out(course_ids) -> list[Q]:
    """Conditions on enrollment rows (with `course_id`, `student_id`) leaving out the hold-out; none
    when there is no hold-out."""
    if conf.reach_holdout_percent <= 0:
        return []
    rows = Enrollment.objects.filter(course_id__in=list(course_ids), is_active=True).values_list(
        "course_id", "student_id"
    )
    held = Q(pk__in=[])
    for course_id, student_id in rows:
        if held_out(student_id, course_id):
            held |= Q(course_id=course_id, student_id=student_id)
    return [~held]
