"""
Signed links a session's messages carry, one per student: answer the RSVP, join, open the recording.

A link names the session and the student and is signed with the site's key (django.core.signing,
one salt per purpose), so no one can make another student's; what it may do, and until when, is
decided from the session when it is used, never from the link alone:
- an RSVP link answers until the session starts (lms.rsvp);
- a join link works from JOIN_OPENS before the start to the end of the session (lms.attendance);
- a recording link works while the session has a recording students may see.
A link is minted when its message is sent (MessageKind.render_context): the ledger keeps the text
without it, like the set-password link.
"""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

from .models import LiveSession, User

JOIN_OPENS = dt.timedelta(minutes=30)
# However a session moves, a link older than this is refused (a leaked one does not live forever).
MAX_AGE = dt.timedelta(days=60)
SALTS = {"rsvp": "lms.session_links.rsvp", "join": "lms.session_links.join", "watch": "lms.session_links.watch"}


@dataclass(frozen=True)
class SessionLink:
    session: LiveSession
    student: User


def make_token(purpose: str, *, session_id: int, student_id: int) -> str:
    return signing.dumps([session_id, student_id], salt=SALTS[purpose], compress=False)


def read_token(purpose: str, token: str) -> SessionLink | None:
    """The session and the active student a token names, or None when it is forged, too old or stale."""
    try:
        session_id, student_id = signing.loads(token, salt=SALTS[purpose], max_age=MAX_AGE)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    session = LiveSession.objects.select_related("course").filter(pk=session_id).first()
    student = User.objects.filter(pk=student_id, is_active=True).first()
    if session is None or student is None:
        return None
    return SessionLink(session=session, student=student)


def absolute(name: str, *args) -> str:
    return f"{settings.SITE_URL}{reverse(name, args=args)}"


def session_links(*, session_id: int, student_id: int, rsvp: bool = False) -> dict:
    """The links a message about the session carries for this student (minted when it is sent)."""
    join = make_token("join", session_id=session_id, student_id=student_id)
    links = {"join_url": absolute("lms:session_join", join)}
    if rsvp:
        token = make_token("rsvp", session_id=session_id, student_id=student_id)
        links |= {
            "rsvp_yes_url": absolute("lms:session_rsvp", token, "yes"),
            "rsvp_no_url": absolute("lms:session_rsvp", token, "no"),
            "rsvp_remind_url": absolute("lms:session_rsvp", token, "remind_1h"),
        }
    return links


def watch_url(*, session_id: int, student_id: int) -> str:
    return absolute("lms:session_watch", make_token("watch", session_id=session_id, student_id=student_id))


def join_window(session: LiveSession) -> tuple[dt.datetime, dt.datetime]:
    """From when to when a join link works."""
    return session.scheduled_at - JOIN_OPENS, session.scheduled_at + dt.timedelta(minutes=session.duration_minutes)


def sent_session_links(context: dict) -> dict:
    """A session message's links for its student, minted when it is sent (MessageKind.render_context):
    the tracked join link for the meeting link and, on the 24-hour reminder, the RSVP links.
    A row planned without the session's and student's ids (before links were tracked: rows are sent
    within minutes of planning) keeps its meeting link and has no RSVP links; it mints nothing, so
    what the ledger stores is what was sent."""
    if not context.get("session_id") or not context.get("student_id"):
        return {}
    return session_links(
        session_id=context["session_id"], student_id=context["student_id"], rsvp=bool(context.get("ask_rsvp"))
    )


def sent_recording_links(context: dict) -> dict:
    """The tracked recording link of a "You missed it" message, minted when it is sent."""
    if not context.get("session_id") or not context.get("student_id"):
        return {}
    return {"watch_url": watch_url(session_id=context["session_id"], student_id=context["student_id"])}
