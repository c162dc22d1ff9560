"""In-app notifications: the list, the unread badge, opening one and marking as read."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from ..models import Notification

NOTIFICATIONS_PER_PAGE = 20


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
