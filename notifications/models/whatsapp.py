"""WhatsApp beside the ledger: the provider's templates, the messages people send us, paused channels."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from .choices import Channel


class WhatsAppCategory(models.TextChoices):
    """Meta's pricing categories: what a WhatsApp template message is billed as."""

    UTILITY = "utility", "Utility"
    MARKETING = "marketing", "Marketing"
    AUTHENTICATION = "authentication", "Authentication"
    SERVICE = "service", "Service (a reply in the 24-hour window)"
    # Meta's other per-message pricing categories, as its status webhooks name them.
    MARKETING_LITE = "marketing_lite", "Marketing lite"
    AUTHENTICATION_INTERNATIONAL = "authentication_international", "Authentication (international)"
    REFERRAL_CONVERSION = "referral_conversion", "Referral conversion (free entry point)"


class WhatsAppTemplate(models.Model):
    """A WhatsApp message template as the provider has it (`manage.py whatsapp_templates sync`).

    Meta approves each template per language and category; a message whose template is not
    approved is not sent.
    """

    class Status(models.TextChoices):
        APPROVED = "approved", "Approved"
        PENDING = "pending", "Pending review"
        REJECTED = "rejected", "Rejected"
        PAUSED = "paused", "Paused (low quality)"
        DISABLED = "disabled", "Disabled"
        UNKNOWN = "unknown", "Unknown"

    provider = models.CharField(max_length=16, help_text="meta or twilio")
    # Meta: the template's name; Twilio: its Content SID (HX...).
    name = models.CharField(max_length=512)
    friendly_name = models.CharField(max_length=512, blank=True)
    language = models.CharField(max_length=16)
    category = models.CharField(max_length=32, choices=WhatsAppCategory.choices, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UNKNOWN)
    body = models.TextField(blank=True, help_text="The template's text, with its {{1}} variables.")
    # Meta: the template's components as listed (HEADER, BODY, FOOTER, BUTTONS), so a send fills
    # each component's variables, and a kind whose variables do not fit is refused at sync time.
    components = models.JSONField(default=list, blank=True)
    synced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["provider", "name", "language"]
        verbose_name = "WhatsApp template"
        constraints = [
            models.UniqueConstraint(fields=["provider", "name", "language"], name="whatsapp_template_unique"),
        ]

    def __str__(self):
        return f"{self.friendly_name or self.name} ({self.language}, {self.get_status_display().lower()})"


class InboundMessage(models.Model):
    """A message a person sent us (a WhatsApp reply): kept on their timeline; STOP and START acted on."""

    class Keyword(models.TextChoices):
        NONE = "", "None"
        STOP = "stop", "STOP (opt out)"
        START = "start", "START (opt back in)"
        MARKETING_STOP = "mstop", "Stop promotions (marketing opt-out)"
        MARKETING_START = "mstart", "Resume promotions (marketing opt-in)"

    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.WHATSAPP)
    provider = models.CharField(max_length=16, help_text="meta or twilio")
    # Unique per provider: a webhook delivered twice is recorded, and acted on, once.
    provider_message_id = models.CharField(max_length=255)
    from_address = models.CharField(max_length=254, help_text="The sender's E.164 number.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound_messages"
    )
    body = models.TextField(blank=True)
    keyword = models.CharField(max_length=8, choices=Keyword.choices, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    # Why it is on no account when several have the number (notifications.services.inbound).
    staff_note = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "provider_message_id"], name="inbound_unique_per_provider"),
        ]
        indexes = [
            models.Index(fields=["from_address", "-received_at"], name="inbound_by_sender"),
            models.Index(fields=["-received_at"], name="inbound_recent"),
        ]

    def __str__(self):
        return f"{self.from_address}: {self.body[:40]}"


class ChannelPause(models.Model):
    """Sending on a channel is paused: its provider account cannot send (bad credentials, no credit).

    Nothing is wrong with the messages, so none of them fails: dispatch stops claiming the channel
    until `until`, then one batch tries again; the first message accepted lifts the pause.
    """

    channel = models.CharField(max_length=16, choices=Channel.choices, unique=True)
    error_code = models.CharField(max_length=64, blank=True)
    reason = models.TextField(help_text="What the provider said.")
    since = models.DateTimeField(default=timezone.now)
    until = models.DateTimeField(help_text="When sending is tried again.")
    failures = models.PositiveIntegerField(default=1, help_text="Tries refused in a row.")

    class Meta:
        verbose_name = "paused channel"

    def __str__(self):
        return f"{self.get_channel_display()} paused since {self.since:%Y-%m-%d %H:%M} UTC: {self.reason[:80]}"
