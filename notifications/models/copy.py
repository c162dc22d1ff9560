"""Copy staff edit: languages and versioned message templates."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Language(models.Model):
    """A language staff added for messages, beside the shipped ones (settings.LANGUAGES)."""

    code = models.CharField(max_length=16, unique=True, help_text="A language code, e.g. ta or bn.")
    name = models.CharField(max_length=64, help_text="As its speakers write it, e.g. தமிழ்.")
    locale = models.CharField(
        max_length=16, blank=True, help_text="For dates and money (Babel), e.g. ta_IN; empty: the code."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return f"{self.name} ({self.code})"


class TemplateChannel(models.TextChoices):
    EMAIL = "email", "Email"
    WHATSAPP = "whatsapp", "WhatsApp"
    INAPP = "inapp", "In-app"


class MessageTemplate(models.Model):
    """One version of a message kind's copy on one channel in one language, written by staff.

    The shipped files in templates/notifications/<kind>/ are the defaults; the published version
    of a (kind, channel, language), when there is one, wins. Published versions are never edited:
    a change is a new version, so every delivery can name the exact copy it was sent with.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        PUBLISHED = "published", "Published"
        RETIRED = "retired", "Replaced by a newer version"

    kind = models.CharField(max_length=64)
    channel = models.CharField(max_length=16, choices=TemplateChannel.choices, default=TemplateChannel.EMAIL)
    language = models.CharField(max_length=16, default="en")
    version = models.PositiveIntegerField(editable=False)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT, editable=False)

    subject = models.CharField(
        "subject / title", max_length=255, blank=True, help_text="The email subject, or the in-app title."
    )
    text = models.TextField(
        blank=True, help_text="The email's text part, the in-app message, or the WhatsApp template's text."
    )
    html = models.TextField(
        "HTML",
        blank=True,
        help_text="The email's HTML content, shown in the shipped layout. Empty: made from the text.",
    )
    whatsapp_content_sid = models.CharField(
        "WhatsApp template SID", max_length=64, blank=True, help_text="The approved template (Twilio HX...)."
    )
    whatsapp_variables = models.JSONField(
        "WhatsApp variables",
        default=list,
        blank=True,
        help_text='The variables the approved template numbers {{1}}, {{2}}..., in order, e.g. ["first_name", "when"].',
    )
    note = models.CharField(max_length=200, blank=True, help_text="What changed, for the history.")

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    edited_at = models.DateTimeField(default=timezone.now, editable=False)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Approval (h23a): everyone who saved a revision of this version (none of them may approve it),
    # and the hash of the exact text asked to be approved and approved (any edit voids both).
    editors = models.JSONField(default=list, blank=True, editable=False)
    submitted_hash = models.CharField(max_length=64, blank=True, editable=False)
    approved_hash = models.CharField(max_length=64, blank=True, editable=False)
    # "Back to the shipped text": who took this published version off, and when (it is retired).
    unpublished_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    unpublished_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["kind", "channel", "language", "-version"]
        verbose_name = "message template"
        constraints = [
            models.UniqueConstraint(fields=["kind", "channel", "language", "version"], name="template_version_unique"),
            # At most one live version: what dispatch renders is never ambiguous.
            models.UniqueConstraint(
                fields=["kind", "channel", "language"],
                condition=Q(status="published"),
                name="template_one_published",
            ),
        ]
        indexes = [models.Index(fields=["status"], condition=Q(status="published"), name="template_published")]
        permissions = [
            ("edit_message_copy", "Can edit message copy (drafts, previews, test sends)"),
            ("publish_message_copy", "Can publish message copy and approve others' changes"),
        ]

    def __str__(self):
        return f"{self.kind} {self.get_channel_display()} ({self.language}) v{self.version}"

    @property
    def authors(self) -> set[int]:
        """Who wrote this version: they cannot approve it themselves."""
        ids = (self.created_by_id, self.edited_by_id, *(self.editors or ()))
        return {user_id for user_id in ids if user_id is not None}
