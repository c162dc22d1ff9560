"""
Calendar invitations for messages about an event: an .ics file (RFC 5545) and a Google Calendar link.

The file says METHOD:PUBLISH, and its MIME part says so too (RFC 5545 §3.7.2, RFC 6047 §2.4:
a text/calendar part's "method" parameter matches the file's METHOD), so mail clients offer
"add to calendar". RFC 5546 §3.2.1 requires an ORGANIZER in a PUBLISH: the event's own, else the
business (DEFAULT_FROM_EMAIL, with SITE_NAME as its name). An event keeps its UID for life; when
it changes its SEQUENCE grows, and a calendar that has the old copy replaces it instead of adding
a second event.
"""

import datetime as dt
from dataclasses import dataclass
from email.utils import parseaddr
from urllib.parse import urlencode

import icalendar
from django.conf import settings

ICS_MIMETYPE = "text/calendar; method=PUBLISH"
GOOGLE_CALENDAR = "https://calendar.google.com/calendar/render"


@dataclass(frozen=True)
class CalendarEvent:
    uid: str
    start: dt.datetime
    minutes: int
    summary: str
    description: str = ""
    location: str = ""
    url: str = ""
    organizer: str = ""
    sequence: int = 0

    @property
    def end(self) -> dt.datetime:
        return self.start + dt.timedelta(minutes=self.minutes)


def event_uid(kind: str, pk) -> str:
    """Return a UID that stays the same for one event of ours, whatever changes."""
    host = settings.SITE_URL.split("://", 1)[-1].split("/", 1)[0]
    return f"{kind}-{pk}@{host}"


def event_ics(event: CalendarEvent) -> str:
    """Return an RFC 5545 calendar (METHOD:PUBLISH) holding `event`."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", f"-//{settings.SITE_NAME}//Messages//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    vevent = icalendar.Event()
    vevent.add("uid", event.uid)
    vevent.add("sequence", event.sequence)
    vevent.add("dtstamp", dt.datetime.now(dt.UTC))
    vevent.add("dtstart", event.start.astimezone(dt.UTC))
    vevent.add("dtend", event.end.astimezone(dt.UTC))
    vevent.add("summary", event.summary)
    if event.description:
        vevent.add("description", event.description)
    if event.location:
        vevent.add("location", event.location)
    if event.url:
        vevent.add("url", event.url)
    vevent.add("organizer", _organizer(event))
    calendar.add_component(vevent)
    return calendar.to_ical().decode()


def _organizer(event: CalendarEvent) -> icalendar.vCalAddress:
    """The event's organizer (RFC 5546 requires one for PUBLISH): its own, else the business."""
    name, address = parseaddr(event.organizer or settings.DEFAULT_FROM_EMAIL)
    organizer = icalendar.vCalAddress(f"mailto:{address or event.organizer}")
    organizer.params["cn"] = icalendar.vText(name or settings.SITE_NAME)
    return organizer


def ics_attachment(event: CalendarEvent, *, filename: str) -> tuple[str, str, str]:
    """Return (filename, content, mimetype) for an email attachment."""
    return filename, event_ics(event), ICS_MIMETYPE


def google_calendar_url(event: CalendarEvent) -> str:
    """Return the "add to Google Calendar" link for `event`."""

    def stamp(moment: dt.datetime) -> str:
        return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")

    query = {
        "action": "TEMPLATE",
        "text": event.summary,
        "dates": f"{stamp(event.start)}/{stamp(event.end)}",
        "details": event.description,
        "location": event.location or event.url,
    }
    return f"{GOOGLE_CALENDAR}?{urlencode({key: value for key, value in query.items() if value})}"
