"""
Asked by the dispatcher just before sending (MessageKind.still_wanted): which planned reminders
lms no longer wants sent, because the session moved or was cancelled, the assignment was
submitted, the payment settled.
"""

import datetime as dt

from .models import Assignment, LiveSession, Payment, SessionAttendance, SessionRsvp, Submission

SESSION = LiveSession._meta.label_lower
# The reminders a "Can't make it" silences (planned before the answer came), and the nudge a join does.
NOT_AFTER_NO = {"session_15min", "session_1h", "session_live"}
NOT_AFTER_JOIN = {"session_live"}
ASSIGNMENT = Assignment._meta.label_lower
PAYMENT = Payment._meta.label_lower


def session_event_key(session: LiveSession) -> str:
    """A session's reminders are keyed by its time: rescheduling re-arms them."""
    return f"{session.pk}@{session.scheduled_at.astimezone(dt.UTC):%Y%m%dT%H%M%S}"


def _about(full_key: str, session: LiveSession) -> bool:
    """A row's event key names the session at its current time (a reach ladder step's: "...:step2")."""
    key = session_event_key(session)
    return full_key.endswith(key) or full_key.partition(":")[2].split(":step")[0] == key


def unwanted_session_reminders(deliveries) -> dict[int, str]:
    """Reminders for sessions that were cancelled or moved since they were planned."""
    deliveries = [d for d in deliveries if d.subject_type == SESSION]
    sessions = LiveSession.objects.in_bulk({d.subject_id for d in deliveries})
    unwanted = {}
    for delivery in deliveries:
        session = sessions.get(delivery.subject_id)
        if session is None or session.is_cancelled:
            unwanted[delivery.pk] = "session_cancelled"
        elif not _about(delivery.event_key, session):
            unwanted[delivery.pk] = "session_rescheduled"
    return unwanted | _unwanted_by_answers([d for d in deliveries if d.pk not in unwanted])


def _unwanted_by_answers(deliveries) -> dict[int, str]:
    """Reminders to students who said they can't make it, and live nudges to those who joined."""
    deliveries = [d for d in deliveries if d.kind in NOT_AFTER_NO and d.recipient_id]
    if not deliveries:
        return {}
    sessions, students = {d.subject_id for d in deliveries}, {d.recipient_id for d in deliveries}
    said_no = set(
        SessionRsvp.objects.filter(
            session_id__in=sessions, student_id__in=students, answer=SessionRsvp.Answer.NO
        ).values_list("session_id", "student_id")
    )
    joined = set(
        SessionAttendance.objects.filter(session_id__in=sessions, student_id__in=students).values_list(
            "session_id", "student_id"
        )
    )
    unwanted = {}
    for delivery in deliveries:
        pair = (delivery.subject_id, delivery.recipient_id)
        if pair in said_no:
            unwanted[delivery.pk] = "said_cant_make_it"
        elif delivery.kind in NOT_AFTER_JOIN and pair in joined:
            unwanted[delivery.pk] = "already_joined"
    return unwanted


def unwanted_assignment_reminders(deliveries) -> dict[int, str]:
    """Reminders to students who have submitted since they were planned."""
    deliveries = [d for d in deliveries if d.subject_type == ASSIGNMENT]
    submitted = set(
        Submission.objects.filter(
            assignment_id__any={d.subject_id for d in deliveries}, student_id__any={d.recipient_id for d in deliveries}
        ).values_list("assignment_id", "student_id")
    )
    return {d.pk: "already_submitted" for d in deliveries if (d.subject_id, d.recipient_id) in submitted}


def unwanted_payment_reminders(deliveries) -> dict[int, str]:
    """Reminders for payments that are no longer pending (paid, failed, refunded)."""
    deliveries = [d for d in deliveries if d.subject_type == PAYMENT]
    pending = set(
        Payment.objects.filter(pk__any={d.subject_id for d in deliveries}, status=Payment.Status.PENDING).values_list(
            "pk", flat=True
        )
    )
    return {d.pk: "payment_settled" for d in deliveries if d.subject_id not in pending}
