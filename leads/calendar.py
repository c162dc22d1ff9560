"""The welcome call's calendar invitation (.ics), attached to the welcome email at send time."""

import datetime as dt

from django.conf import settings


def _ics_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def welcome_call_ics(
    *, uid: str, start: dt.datetime, minutes: int, summary: str, description: str, organizer: str = ""
) -> str:
    """Return an RFC 5545 calendar with one event."""
    end = start + dt.timedelta(minutes=minutes)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:-//{_escape(settings.SITE_NAME)}//Welcome call//EN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{_ics_time(dt.datetime.now(dt.UTC))}",
        f"DTSTART:{_ics_time(start)}",
        f"DTEND:{_ics_time(end)}",
        f"SUMMARY:{_escape(summary)}",
        f"DESCRIPTION:{_escape(description)}",
    ]
    if organizer:
        lines.append(f"ORGANIZER:mailto:{organizer}")
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return "\r\n".join(lines) + "\r\n"


def welcome_call_attachments(context: dict) -> list[tuple[str, str, str]]:
    """Return the .ics attachment for a welcome email whose context has a call, else nothing."""
    start = context.get("call_start")
    if not start:
        return []
    ics = welcome_call_ics(
        uid=f"welcome-call-{context.get('call_id')}@{settings.SITE_URL.split('://')[-1]}",
        start=dt.datetime.fromisoformat(start),
        minutes=int(context.get("call_minutes", 30)),
        summary=f"Welcome call with {settings.SITE_NAME}",
        description=f"{context.get('call_with', 'Our team')} will call you to help you get started.",
        organizer=context.get("call_with_email", ""),
    )
    return [("welcome-call.ics", ics, "text/calendar")]
