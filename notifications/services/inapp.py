"""In-app notifications: the list, the unread badge, opening one and marking as read."""

import datetime as dt
import re
from urllib.parse import urlsplit

from babel.dates import format_date
from django.conf import settings
from django.core.paginator import Page, Paginator
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language, gettext

from common.formatting import format_relative, format_weekday, locale_or_default, reader_locale, zone

from ..models import Notification

NOTIFICATIONS_PER_PAGE = 20
# A time stored in a notification's text to be put in words when it is shown, not when it was
# planned ("Starts in 10 minutes" must not still say so an hour later): [[Starts:ISO 8601]].
RELATIVE_TIME = re.compile(r"\[\[(starts|Starts):([0-9T:.+\-Z ]+)\]\]")
# A day stored the same way, with the zone it is a date in: [[day_label:2026-12-07 Asia/Kolkata]]
# ("Tomorrow", "Thursday") and [[day_phrase:…]] ("tomorrow", "on Thursday"), so a title planned a
# day ahead does not still say "tomorrow" days later.
DAY = re.compile(r"\[\[day_(label|phrase):(\d{4}-\d{2}-\d{2}) ([A-Za-z0-9_+\-/]+)\]\]")


def get_unread_notification_count(*, user) -> int:
    """Return how many of `user`'s notifications are unread (one indexed count)."""
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def get_notifications_page(*, user, page_number, per_page: int = NOTIFICATIONS_PER_PAGE) -> Page:
    """Return one page of `user`'s notifications, newest first (a count and one page: two queries)."""
    # Ordered as the (user, -created_at, -id) index is, so a page is an index range scan.
    notifications = (
        Notification.objects.filter(user=user)
        .only("id", "title", "message", "link", "read_at", "created_at")
        .order_by("-created_at", "-id")
    )
    return Paginator(notifications, per_page).get_page(page_number)


def mark_notification_read(*, user, notification_id: int) -> Notification:
    """Mark one of `user`'s own notifications read; raise Notification.DoesNotExist for anyone else's."""
    notification = Notification.objects.get(pk=notification_id, user=user)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=notification.read_at)
    return notification


def open_notification(*, user, notification_id: int) -> str:
    """Mark one of `user`'s notifications read and return where it leads ("" when nowhere safe)."""
    notification = mark_notification_read(user=user, notification_id=notification_id)
    return notification_target(link=notification.link)


def notification_target(*, link: str) -> str:
    """Return `link` if it is safe to redirect to (an http(s) URL or a path on this site), else ""."""
    link = (link or "").strip()
    site = settings.SITE_URL.rstrip("/")
    if link == site or link.startswith(f"{site}/"):
        # Our own pages by path, so they open on whichever host serves the request.
        link = link[len(site) :] or "/"
    parts = urlsplit(link)
    # Stored links are ours (meeting, recording and payment URLs), so any http(s) host may be the
    # target; anything else (javascript:, data:, //host, "/\host") is refused by Django's check.
    hosts = {parts.netloc} if parts.scheme in ("http", "https") and parts.netloc else set()
    return link if link and url_has_allowed_host_and_scheme(link, allowed_hosts=hosts) else ""


def mark_all_notifications_read(*, user) -> int:
    """Mark all of `user`'s notifications read; return how many changed."""
    return Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())


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
