"""In-app notifications: the unread badge and marking as read (the seed's helper functions)."""

from django.utils import timezone

from ..models import Notification


def get_unread_notification_count(*, user) -> int:
    """Return how many of `user`'s notifications are unread (one indexed count)."""
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def mark_notification_read(*, user, notification_id: int) -> Notification:
    """Mark one of `user`'s own notifications read; raise Notification.DoesNotExist for anyone else's."""
    notification = Notification.objects.get(pk=notification_id, user=user)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=notification.read_at)
    return notification


def mark_all_notifications_read(*, user) -> int:
    """Mark all of `user`'s notifications read; return how many changed."""
    return Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())
