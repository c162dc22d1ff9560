"""In-app notifications: what a user reads on their notifications page."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from ..markers import render_relative_times


class Notification(models.Model):
    """An in-app notification a user reads on their notifications page."""

    # No index of its own: the (user, created_at) and unread indexes below serve every lookup by user.
    # No database constraint either (as for Delivery.recipient): planning inserts a row per recipient
    # of an event, and the deferred check of each took a tenth of the 24-hour job at COMMIT. Deleting
    # a user through Django still deletes their notifications (on_delete runs in the ORM).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        db_index=False,
        db_constraint=False,
    )
    kind = models.CharField(max_length=64)
    title = models.CharField(max_length=200)
    message = models.TextField(blank=True)
    link = models.CharField(max_length=500, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=False)
    # One notification per event and user, whatever the channels and however often planned.
    dedupe_key = models.CharField(max_length=255, unique=True, null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="notif_user_recent"),
            # The unread badge: one index-only count.
            models.Index(fields=["user"], condition=Q(read_at__isnull=True), name="notif_user_unread"),
            models.Index(fields=["-created_at"], name="notif_created"),
        ]

    def __str__(self):
        return f"{render_relative_times(self.title)} → {self.user}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None
