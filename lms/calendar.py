"""
Live sessions in the students' calendars: an .ics invitation and a Google Calendar link in the
24-hour reminder, and an updated invitation when a session moves.

Every invitation of one session has the same UID; the session's `sequence` grows each time its
time changes, so a calendar that holds the old copy replaces it (RFC 5545 §3.8.7.4).
"""

import datetime as dt

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext

from common.calendar import CalendarEvent, event_uid, google_calendar_url, ics_attachment
from notifications.api import language_of


def _join_line(join_url: str, language: str) -> str:
    """The invitation's "Join: <link>" line in `language` (English for a language the pages lack)."""
    if not join_url:
        return ""
    with translation.override(language if language in dict(settings.LANGUAGES) else "en"):
        return gettext("Join: %(url)s") % {"url": join_url}


def session_calendar_event(context: dict, *, language: str | None = None) -> CalendarEvent:
    """Return the calendar event of the session a message's context describes, its text in the
    reader's language (`language`, else the context's)."""
    join_url = context.get("join_url", "")
    join = _join_line(join_url, language or language_of(context))
    return CalendarEvent(
        uid=event_uid("session", context["session_id"]),
        start=dt.datetime.fromisoformat(context["scheduled_at"]),
        minutes=int(context.get("duration_minutes") or 60),
        summary=context.get("title", ""),
        description="\n".join(filter(None, [context.get("course_title", ""), join])),
        location=join_url,
        url=join_url,
        sequence=int(context.get("sequence") or 0),
    )


def session_calendar_context(session, *, language: str = "en") -> dict:
    """What a session's reminders need for the calendar: shared by every recipient of the session
    who reads `language` (the Google Calendar link's text is in it)."""
    context = {
        "session_id": session.pk,
        "scheduled_at": session.scheduled_at.isoformat(),
        "duration_minutes": session.duration_minutes,
        "sequence": session.sequence,
        "title": session.title,
        "course_title": session.course.title,
        "join_url": session.meeting_url,
    }
    return {**context, "calendar_url": google_calendar_url(session_calendar_event(context, language=language))}


def session_attachments(context: dict) -> list[tuple[str, str, str]]:
    """The session's .ics invitation, attached when the email is sent (MessageKind.attachments)."""
    if "session_id" not in context:
        return []  # planned before invitations were attached
    return [ics_attachment(session_calendar_event(context), filename="session.ics")]
