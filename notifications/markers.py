"""
Times and days in a notification's text that are put in words when it is read, not when it was
planned: "Starts in 10 minutes" must not still say so an hour later, nor "tomorrow" days later.
Planning stores a marker; the pages (and the admin) put it in words in the reader's language.
"""

import datetime as dt
import re

from babel.dates import format_date
from django.conf import settings
from django.utils import timezone
from django.utils.translation import get_language, gettext

from common.formatting import format_relative, format_weekday, locale_or_default, reader_locale, zone

# A time stored in a notification's text to be put in words when it is shown, not when it was
# planned ("Starts in 10 minutes" must not still say so an hour later): [[Starts:ISO 8601]].
RELATIVE_TIME = re.compile(r"\[\[(starts|Starts):([0-9T:.+\-Z ]+)\]\]")
# A day stored the same way, with the zone it is a date in: [[day_label:2026-12-07 Asia/Kolkata]]
# ("Tomorrow", "Thursday") and [[day_phrase:…]] ("tomorrow", "on Thursday"), so a title planned a
# day ahead does not still say "tomorrow" days later.
DAY = re.compile(r"\[\[day_(label|phrase):(\d{4}-\d{2}-\d{2}) ([A-Za-z0-9_+\-/]+)\]\]")


def day_marker(*, part: str, local_date: str, tz: str) -> str:
    """Return the marker of a day (`part`: "label" or "phrase") that render_relative_times puts in words."""
    return f"[[day_{part}:{local_date} {tz}]]"


def day_words(day: dt.date, *, today: dt.date, locale: str) -> dict:
    """Return `day_label` and `day_phrase` of `day` seen from `today`, in the active language: "Today"/
    "today", "Tomorrow"/"tomorrow", the weekday within the week ahead ("Thursday"/"on Thursday"), else
    its date ("7 Dec"/"on 7 Dec")."""
    days_away = (day - today).days
    if days_away == 0:
        return {"day_label": gettext("Today"), "day_phrase": gettext("today")}
    if days_away == 1:
        return {"day_label": gettext("Tomorrow"), "day_phrase": gettext("tomorrow")}
    if 1 < days_away < 7:
        label = format_weekday(day, locale=locale)
    else:
        label = format_date(day, "d MMM", locale=locale_or_default(locale))
    return {"day_label": label, "day_phrase": gettext("on %(weekday)s") % {"weekday": label}}


def render_relative_times(text: str, *, now: dt.datetime | None = None, locale: str | None = None) -> str:
    """Put the marked times and days of a notification's text in words as of `now`, in the active
    language ("Starts in 10 minutes", "10 मिनट में शुरू होगा", "कल"); a marker that cannot be read is dropped."""
    now = now or timezone.now()
    locale = locale or reader_locale(language=get_language(), locale=settings.DEFAULT_LOCALE)

    def day(match: re.Match) -> str:
        part, stamp, tz = match.groups()
        try:
            local_date = dt.date.fromisoformat(stamp)
        except ValueError:
            return ""
        return day_words(local_date, today=now.astimezone(zone(tz)).date(), locale=locale)[f"day_{part}"]

    text = DAY.sub(day, text)

    def words(match: re.Match) -> str:
        verb, stamp = match.groups()
        try:
            moment = dt.datetime.fromisoformat(stamp.strip())
        except ValueError:
            return ""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        if abs(moment - now) < dt.timedelta(minutes=1):
            phrase = gettext("starts now")
        elif moment > now:
            phrase = gettext("starts %(time)s") % {"time": format_relative(moment, now=now, locale=locale)}
        else:
            phrase = gettext("started %(time)s") % {"time": format_relative(moment, now=now, locale=locale)}
        return phrase[0].upper() + phrase[1:] if verb[0].isupper() else phrase

    return RELATIVE_TIME.sub(words, text)
