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
    # The key, as the ledger's: one notification per (event, user), whatever the channels and however
    # often planned; two integers where a text key was. NULL for a notification no event names (a
    # staff test). No database constraint, as for Delivery.event: retention removes only events no
    # delivery and no notification names (services.retention), and the ORM still deletes a user's
    # notifications (and keeps them, without their key, when an event goes).
    event = models.ForeignKey(
        "MessageEvent",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notifications",
        db_index=False,  # the unique (event, user) index serves every lookup by event
        db_constraint=False,
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["event", "user"], name="notification_unique_per_event")]
        # Only what the pages and the badge read (planning inserts a row per recipient into each index).
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="notif_user_recent"),
            # The unread badge: one index-only count.
            models.Index(fields=["user"], condition=Q(read_at__isnull=True), name="notif_user_unread"),
        ]

    def __str__(self):
        return f"{render_relative_times(self.title)} → {self.user}"

    @property
    def dedupe_key(self) -> str | None:
        """The notification's name in words: its event and recipient (the key itself is the two ids)."""
        return f"{self.event.key}:u{self.user_id}" if self.event_id is not None else None

    @property
    def is_read(self) -> bool:
        return self.read_at is not None
