"""
"Will you be there?": a student's answer to a session's 24-hour reminder, in one tap.

Three answers (SessionRsvp.Answer): "I'll be there", "Can't make it" (no starting-soon reminder, no
live nudge, and the recording's notice says they missed it) and "Remind me 1 h before" (one more
reminder, lms.reminders.plan_session_reminders_1h). They come from a signed link in the email (a
page that asks, then records on POST: lms.session_views), buttons on the site for a signed-in
student, and WhatsApp quick-reply buttons, whose payload the inbound webhooks hand to
`answer_whatsapp_reply` (registered with notifications.kinds.register_reply_handler).

The WhatsApp template's buttons carry the payloads RSVP_YES, RSVP_NO and RSVP_1H, optionally with
the session's id ("RSVP_NO:42"); a tap without an id answers for the student's next session
(started in no more than RSVP_HORIZON). The sender is the one account whose number sent it.
An answer after the start, for a cancelled session or a course the student left changes nothing.
"""

import datetime as dt
import re

from django.db import transaction
from django.utils import timezone

from notifications.kinds import InboundReply, ReplyAnswer, register_reply_handler

from .models import Enrollment, LiveSession, SessionRsvp, User

Answer = SessionRsvp.Answer
RSVP_HORIZON = dt.timedelta(hours=48)
RSVP_NOTED = "session_rsvp_noted"  # the WhatsApp confirmation (lms.messages)
PAYLOAD = re.compile(r"^rsvp[_ ](yes|no|1h)(?:[:_ ](\d+))?$", re.IGNORECASE)
PAYLOAD_ANSWERS = {"yes": Answer.YES, "no": Answer.NO, "1h": Answer.REMIND_1H}
# A tap on a template whose buttons carry no payload arrives as its words (English and Hindi).
BUTTON_WORDS = {
    "i'll be there": Answer.YES,
    "i’ll be there": Answer.YES,
    "can't make it": Answer.NO,
    "can’t make it": Answer.NO,
    "remind me 1 h before": Answer.REMIND_1H,
    "remind me 1h before": Answer.REMIND_1H,
    "मैं आऊँगा": Answer.YES,
    "मैं आऊंगा": Answer.YES,
    "नहीं आ पाऊँगा": Answer.NO,
    "नहीं आ पाऊंगा": Answer.NO,
    "1 घंटा पहले याद दिलाएँ": Answer.REMIND_1H,
}


def can_answer(*, session: LiveSession, student: User, now: dt.datetime) -> bool:
    """The session is still to come and the student is enrolled in its course."""
    if session.is_cancelled or session.scheduled_at <= now:
        return False
    return Enrollment.objects.filter(
        course_id=session.course_id, student=student, is_active=True, student__is_active=True
    ).exists()


@transaction.atomic
def record_rsvp(
    *, session: LiveSession, student: User, answer: str, via: str, now: dt.datetime | None = None
) -> SessionRsvp | None:
    """Keep the student's answer (the last one counts); None when the session can no longer be answered."""
    now = now or timezone.now()
    if answer not in Answer.values or not can_answer(session=session, student=student, now=now):
        return None
    rsvp, _created = SessionRsvp.objects.update_or_create(
        session=session, student=student, defaults={"answer": answer, "via": via, "answered_at": now}
    )
    return rsvp


def answer_of(reply: InboundReply) -> tuple[str, int | None] | None:
    """The answer (and session id, if the button names one) a WhatsApp reply is, or None."""
    match = PAYLOAD.match(reply.payload.strip())
    if match:
        return PAYLOAD_ANSWERS[match.group(1).lower()], int(match.group(2)) if match.group(2) else None
    words = " ".join(reply.text.split()).casefold().rstrip("!.।")
    if words in BUTTON_WORDS:
        return BUTTON_WORDS[words], None
    return None


def next_session(*, student: User, now: dt.datetime) -> LiveSession | None:
    """The student's next session still to come, within RSVP_HORIZON."""
    return (
        LiveSession.objects.filter(
            is_cancelled=False,
            scheduled_at__gt=now,
            scheduled_at__lte=now + RSVP_HORIZON,
            course__enrollments__student=student,
            course__enrollments__is_active=True,
        )
        .order_by("scheduled_at")
        .first()
    )


def answer_whatsapp_reply(reply: InboundReply) -> ReplyAnswer | None:
    """An RSVP button tapped on WhatsApp: record it and confirm it (notifications.replies)."""
    said = answer_of(reply)
    if said is None:
        return None
    answer, session_id = said
    student = User.objects.filter(pk=reply.user_id, is_active=True).first() if reply.user_id else None
    if student is None:
        return ReplyAnswer(note="RSVP from a number on no single account: not recorded.")
    if session_id is not None:
        session = LiveSession.objects.filter(pk=session_id).first()
    else:
        session = next_session(student=student, now=reply.received_at)
    rsvp = session and record_rsvp(
        session=session, student=student, answer=answer, via="whatsapp", now=reply.received_at
    )
    if rsvp is None:
        return ReplyAnswer(note="RSVP for no session still to come: not recorded.")
    return ReplyAnswer(
        note=f"RSVP “{rsvp.get_answer_display()}” for session {session.pk}.",
        kind=RSVP_NOTED,
        context={"title": session.title, "answer": answer},
    )


register_reply_handler(answer_whatsapp_reply)
