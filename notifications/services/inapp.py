"""In-app notifications: the list, the unread badge, opening one and marking as read."""

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from ..models import Notification

NOTIFICATIONS_PER_PAGE = 20
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def get_unread_notification_count(*, user) -> int:
    """Return how many of `user`'s notifications are unread (one indexed count)."""
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


@dataclass
class NotificationsPage:
    """One page of a person's notifications, newest first, and where the pages beside it start."""

    notifications: list[Notification]
    newer: str = ""  # the cursor of the page before (newer notifications), "" on the first page
    older: str = ""  # the cursor of the page after (older notifications), "" on the last

    @property
    def is_first(self) -> bool:
        return not self.newer


def get_notifications_page(
    *, user, older: str = "", newer: str = "", per_page: int = NOTIFICATIONS_PER_PAGE
) -> NotificationsPage:
    """Return the page of `user`'s notifications just older than the cursor `older` (or just newer than
    `newer`; the newest page without either): one index range scan, however long the history, and
    no count. A cursor that cannot be read gives the newest page."""
    rows = Notification.objects.filter(user=user).only("id", "title", "message", "link", "read_at", "created_at")
    position = _position(newer)
    if position:  # the page before: the next `per_page` newer ones, read upwards and turned round
        upwards = rows.filter(_after(*position)).order_by("created_at", "id")[: per_page + 1]
        found = list(upwards)
        if found:  # else nothing is newer any more: the newest page
            notifications = found[:per_page][::-1]
            more_newer = len(found) > per_page
            return NotificationsPage(
                notifications, newer=cursor(notifications[0]) if more_newer else "", older=cursor(notifications[-1])
            )
    position = _position(older)
    if position:
        rows = rows.filter(~_after(*position) & ~Q(created_at=position[0], id=position[1]))
    found = list(rows.order_by("-created_at", "-id")[: per_page + 1])
    notifications = found[:per_page]
    return NotificationsPage(
        notifications,
        newer=cursor(notifications[0]) if position and notifications else "",
        older=cursor(notifications[-1]) if len(found) > per_page else "",
    )


def cursor(notification: Notification) -> str:
    """A notification's place in the list: its time in microseconds and its id ("1733212345678901.42")."""
    return f"{(notification.created_at - EPOCH) // dt.timedelta(microseconds=1)}.{notification.pk}"


def _position(value: str | None) -> tuple[dt.datetime, int] | None:
    microseconds, _, pk = (value or "").partition(".")
    if not (microseconds.isdigit() and pk.isdigit()) or len(microseconds) > 18:
        return None
    return EPOCH + dt.timedelta(microseconds=int(microseconds)), int(pk)


def _after(created_at: dt.datetime, pk: int) -> Q:
    """Newer than (created_at, pk) in the list's order (-created_at, -id)."""
    return Q(created_at__gt=created_at) | Q(created_at=created_at, id__gt=pk)


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
