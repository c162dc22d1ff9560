"""What people chose or may not receive: suppressions, topic opt-outs, WhatsApp consent."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from .choices import Category, Channel, Topic


class Suppression(models.Model):
    """An address that must not receive messages of a category on a channel."""

    class Reason(models.TextChoices):
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        BOUNCED = "bounced", "Bounced"
        COMPLAINED = "complained", "Marked as spam"
        INVALID = "invalid", "Invalid address"
        OPTED_OUT = "opted_out", "Opted out (STOP)"
        MANUAL = "manual", "Added by staff"

    # An empty category suppresses every category (a hard bounce); "marketing" only marketing.
    ALL_CATEGORIES = ""

    channel = models.CharField(max_length=16, choices=Channel.choices)
    address = models.CharField(max_length=254, help_text="Email address (lower case) or E.164 phone number.")
    category = models.CharField(
        max_length=16,
        choices=[("", "All messages"), *Category.choices],
        blank=True,
        default=ALL_CATEGORIES,
    )
    reason = models.CharField(max_length=16, choices=Reason.choices)
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "address", "category"], name="suppression_unique"),
        ]

    def __str__(self):
        scope = self.get_category_display().lower() if self.category else "all messages"
        return f"{self.address} ({self.get_channel_display()}, {scope}): {self.get_reason_display()}"


class NotificationPreference(models.Model):
    """A user's opt-out of one topic on one channel (no row: they receive it)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="message_preferences")
    topic = models.CharField(max_length=16, choices=Topic.choices)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "topic", "channel"], name="preference_unique"),
        ]

    def __str__(self):
        state = "on" if self.enabled else "off"
        return f"{self.user}: {self.get_topic_display()} by {self.get_channel_display()} {state}"


class WhatsAppConsent(models.Model):
    """A number's WhatsApp consent for one category, given or withdrawn: when, and how.

    Utility (reminders, payments) and marketing are kept apart: marketing WhatsApp goes only to a
    number whose marketing consent is given; a STOP withdraws both.
    """

    class Category(models.TextChoices):
        UTILITY = "utility", "Reminders and account (utility)"
        MARKETING = "marketing", "Offers and news (marketing)"

    address = models.CharField(max_length=32, help_text="E.164 phone number.")
    category = models.CharField(max_length=16, choices=Category.choices)
    given = models.BooleanField()
    changed_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=120, help_text="How: the CTA form, the preferences page, a STOP reply...")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="whatsapp_consents"
    )

    class Meta:
        ordering = ["address", "category"]
        verbose_name = "WhatsApp consent"
        constraints = [
            models.UniqueConstraint(fields=["address", "category"], name="whatsapp_consent_unique"),
        ]

    def __str__(self):
        state = "given" if self.given else "withdrawn"
        return f"{self.address} {self.category}: {state} {self.changed_at:%Y-%m-%d} ({self.source})"
