"""A person's attention budget: their own quiet hours and digest hour (services/attention.py)."""

from django.conf import settings
from django.db import models


class AttentionPreference(models.Model):
    """When a person wants to be left alone, and when their digest comes; empty: the site's default
    (NOTIFICATIONS_QUIET_HOURS, NOTIFICATIONS_DIGEST_HOUR), read in their time zone."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="attention"
    )
    # Quiet hours, local time; both empty: the default; start == end is refused by the form.
    quiet_start = models.TimeField(null=True, blank=True)
    quiet_end = models.TimeField(null=True, blank=True)
    # The local hour (0-23) the digest goes at.
    digest_hour = models.PositiveSmallIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.user}: quiet {self.quiet_start}-{self.quiet_end}, digest at {self.digest_hour}"
