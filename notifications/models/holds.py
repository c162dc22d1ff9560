"""Staff holds on a subject: every message about it (a session's reminders, planned now or later) waits."""

from django.db import models
from django.utils import timezone


class SubjectHold(models.Model):
    """Staff held every message about one subject ("lms.livesession", 42) from the outbox: its rows
    are held now, and the dispatcher's gate holds those planned later, until staff release it."""

    subject_type = models.CharField(max_length=64)
    subject_id = models.BigIntegerField()
    reason = models.CharField(max_length=255)
    held_by = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["subject_type", "subject_id"], name="subject_hold_unique")]

    def __str__(self):
        return f"{self.subject_type}:{self.subject_id} held ({self.reason})"
