"""The welcome call's calendar invitation (.ics), attached to the welcome email at send time."""

import datetime as dt

from django.conf import settings

from common.calendar import CalendarEvent, event_uid, ics_attachment


def welcome_call_attachments(context: dict) -> list[tuple[str, str, str]]:
    """Return the .ics attachment for a welcome email whose context has a call, else nothing."""
    start = context.get("call_start")
    if not start:
        return []
    event = CalendarEvent(
        uid=event_uid("welcome-call", context.get("call_id")),
        start=dt.datetime.fromisoformat(start),
        minutes=int(context.get("call_minutes", 30)),
        summary=f"Welcome call with {settings.SITE_NAME}",
        description=f"{context.get('call_with', 'Our team')} will call you to help you get started.",
        organizer=context.get("call_with_email", ""),
    )
    return [ics_attachment(event, filename="welcome-call.ics")]
