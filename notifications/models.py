"""
The one door for outgoing messages: in-app notifications, the delivery ledger, opt-outs.

`Delivery` is the ledger (outbox): one row per (event, recipient, channel), unique by those
three integers (`MessageEvent` names the event once for all its rows). That row, not a flag on a
session or a payment, is what "already sent" means. See shared/DESIGN.md, "The delivery ledger".
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from common.languages import DEFAULT_LANGUAGE


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    WHATSAPP = "whatsapp", "WhatsApp"


class Category(models.TextChoices):
    """How a message may be silenced: marketing opt-outs never silence transactional mail."""

    TRANSACTIONAL = "transactional", "Transactional"
    MARKETING = "marketing", "Marketing"
    ACCOUNT = "account", "Account"


class Topic(models.TextChoices):
    """What a person can opt out of on their preferences page."""

    REMINDERS = "reminders", "Class reminders and course updates"
    PAYMENTS = "payments", "Payment reminders"
    MARKETING = "marketing", "Offers and news"
    ACCOUNT = "account", "Account and security"  # cannot be turned off


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
        from .services.inapp import render_relative_times  # the services import the models

        return f"{render_relative_times(self.title)} → {self.user}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class MessageEvent(models.Model):
    """What a message is about, once for all its recipients and channels: a session's 24-hour
    reminder at its scheduled time, a lead's day-3 email. Its id, with the recipient and the
    channel, is the ledger's key: an integer, where the text key is only a name."""

    kind = models.CharField(max_length=64)
    # kind + subject + version, e.g. "session_24h:42@20261125T0430".
    key = models.CharField(max_length=255, unique=True)
    # What the message is about, for timelines and statistics ("lms.livesession", 42).
    subject_type = models.CharField(max_length=64, blank=True)
    subject_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["subject_type", "subject_id"], name="message_event_subject"),
            models.Index(fields=["kind", "-created_at"], name="message_event_kind"),
        ]

    def __str__(self):
        return self.key


class MessageGroup(models.Model):
    """What the recipients of an event in one group share (the session's time in their zone and
    locale, its title and links): the context their messages render with, stored once."""

    event = models.ForeignKey(MessageEvent, on_delete=models.CASCADE, related_name="groups", db_index=False)
    # The context's digest: planning the same group again finds this row.
    digest = models.CharField(max_length=32)
    context = models.JSONField(default=dict, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Not sent after this time.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "digest"], name="message_group_unique")]

    def __str__(self):
        return f"{self.event} ({self.digest[:8]})"


class DeliveryManager(models.Manager):
    def create_single(
        self,
        *,
        kind: str,
        channel: str,
        to_address: str,
        recipient=None,
        subject_type: str = "",
        subject_id: int | None = None,
        event_key: str | None = None,
        context: dict | None = None,
        **fields,
    ) -> "Delivery":
        """Create one delivery made by hand (a staff test send, a test, the demo), and its event.

        Planning makes rows in bulk (services.planning); this is for the few places that need one.
        The event is found by `event_key` (each call its own event without one); `context` is the
        row's own.
        """
        event, _ = MessageEvent.objects.get_or_create(
            key=event_key or f"{kind}:{uuid.uuid4().hex}",
            defaults={"kind": kind, "subject_type": subject_type, "subject_id": subject_id},
        )
        if context is not None:
            fields["own_context"] = context
        return self.create(event=event, recipient=recipient, channel=channel, to_address=to_address, **fields)


class Delivery(models.Model):
    """One message to one recipient on one channel: the ledger row and its life cycle.

    Lean on purpose (a row per recipient, millions a day): the event and what the recipients of a
    group share live in MessageEvent and MessageGroup; the row keeps only what is its own. Columns
    empty for most of a row's life are NULL, which costs nothing on disk.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        OPENED = "opened", "Opened"
        CLICKED = "clicked", "Clicked"
        BOUNCED = "bounced", "Bounced"
        COMPLAINED = "complained", "Complained"
        FAILED = "failed", "Failed"
        UNKNOWN = "unknown", "Unknown (check with provider)"
        SUPPRESSED = "suppressed", "Suppressed"
        EXPIRED = "expired", "Expired"
        CANCELLED = "cancelled", "Cancelled"

    # The key: one row per (event, recipient, channel). People without an account (leads) have no
    # recipient: for them (event, channel, address) is the key (a partial unique index).
    # No database constraint on either: checking two foreign keys on each of millions of inserted
    # rows took a third of planning. Django keeps them (PROTECT and SET_NULL run in the ORM, which
    # deletes every user and event), and retention removes only events no delivery names.
    event = models.ForeignKey(
        MessageEvent, on_delete=models.PROTECT, related_name="deliveries", db_index=False, db_constraint=False
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deliveries",
        db_index=False,  # the (recipient, created_at) index serves every lookup by recipient
        db_constraint=False,
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    to_address = models.CharField(max_length=254, help_text="Email address or E.164 phone number.")
    # No database constraint: a group is removed only with its event (retention), never alone.
    group = models.ForeignKey(
        MessageGroup,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    # What is the recipient's own, laid over the group's context (an amount, a lead's name); NULL
    # when nothing is. An account's name and language are read from the account when rendering.
    own_context = models.JSONField(null=True, blank=True)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # Claimed lowest first (then by due time), set when planned: 0 "starting soon", 1 "tomorrow",
    # 2 other transactional messages, 3 bulk (campaigns, payment reminders). NOTIFICATIONS["PRIORITIES"].
    priority = models.PositiveSmallIntegerField(default=2, db_default=2)
    # The row's own expiry (a requeue sets one); NULL: the group's (see `expiry`).
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Not sent after this time.")
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True)
    # Set just before the provider request that carries this message goes out (cleared by each
    # claim). A claim whose lease ran out becomes `unknown` only if it was handed over; a row
    # claimed but never handed over had no request and goes back to `pending`.
    handed_over_at = models.DateTimeField(null=True, blank=True)

    provider_message_id = models.CharField(max_length=255, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    last_error = models.TextField(blank=True)
    # Exactly what went out, for the admin.
    rendered_subject = models.CharField(max_length=255, blank=True)
    rendered_text = models.TextField(blank=True)
    # The staff-edited template version the message was rendered with (none: the shipped file).
    # No database constraint: every planned row (NULL here until sent) queued a deferred check for
    # COMMIT; the ORM still sets it NULL when its version is deleted.
    template_version = models.ForeignKey(
        "MessageTemplate",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deliveries",
        db_index=False,
        db_constraint=False,
    )
    # A "send a test to me" from the template editor: real channels, never counted in stats.
    is_test = models.BooleanField(default=False)
    # A WhatsApp message's pricing category as Meta bills it (utility, marketing, marketing_lite,
    # authentication, authentication_international, service, referral_conversion: up to 28
    # characters) and what it is estimated to cost in INR (settings.WHATSAPP_PRICES), once sent.
    whatsapp_category = models.CharField(max_length=32, blank=True)
    cost = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True, help_text="Estimated, in INR.")

    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    # NULL until the row first changes after planning.
    updated_at = models.DateTimeField(null=True, blank=True)

    objects = DeliveryManager()

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "recipient", "channel"], name="delivery_unique_per_recipient"),
            models.UniqueConstraint(
                fields=["event", "channel", "to_address"],
                condition=Q(recipient__isnull=True),
                name="delivery_unique_per_address",
            ),
            models.CheckConstraint(condition=~Q(to_address=""), name="delivery_has_address"),
        ]
        indexes = [
            # The dispatcher's queue: only pending rows, urgent first, in due order.
            models.Index(
                fields=["priority", "next_attempt_at"], condition=Q(status="pending"), name="delivery_due_by_priority"
            ),
            # Lease expiry scans only rows being sent.
            models.Index(fields=["claimed_at"], condition=Q(status="sending"), name="delivery_sending"),
            models.Index(fields=["recipient", "-created_at"], name="delivery_recipient_recent"),
            # People without an account are found by address (timelines); accounts by recipient.
            models.Index(fields=["to_address"], condition=Q(recipient__isnull=True), name="delivery_address"),
            models.Index(
                fields=["provider_message_id"],
                condition=~Q(provider_message_id=""),
                name="delivery_provider_id",
            ),
            # Meta's daily limit: the numbers reached on WhatsApp in the last 24 hours.
            models.Index(
                fields=["handed_over_at", "to_address"],
                condition=Q(channel="whatsapp", handed_over_at__isnull=False),
                name="delivery_whatsapp_reached",
            ),
            # Reconciliation and the health check read only the rows waiting to be settled.
            models.Index(fields=["updated_at"], condition=Q(status="unknown"), name="delivery_unknown"),
            models.Index(
                fields=["template_version"], condition=Q(template_version__isnull=False), name="delivery_template"
            ),
        ]

    def __str__(self):
        return f"{self.kind} → {self.to_address} ({self.get_channel_display()}, {self.status})"

    # The event's fields, read through it (filter on them as `event__kind`, `event__key`...).
    @property
    def kind(self) -> str:
        return self.event.kind

    @property
    def event_key(self) -> str:
        return self.event.key

    @property
    def subject_type(self) -> str:
        return self.event.subject_type

    @property
    def subject_id(self) -> int | None:
        return self.event.subject_id

    @property
    def dedupe_key(self) -> str:
        """The message's name in words: its event and recipient (the key itself is the three ids)."""
        ref = f"u{self.recipient_id}" if self.recipient_id is not None else self.to_address
        return f"{self.event_key}:{ref}"

    @property
    def expiry(self):
        """When the message stops being worth sending: the row's own expiry, else its group's."""
        if self.expires_at is not None or self.group_id is None:
            return self.expires_at
        return self.group.expires_at

    @property
    def context(self) -> dict:
        """What the templates render with: the group's context, the row's own over it, and the
        account's name and language (read when rendering, not stored on each row)."""
        context = {**(self.group.context if self.group_id else {}), **(self.own_context or {})}
        if self.recipient_id is not None and self.recipient is not None:
            # The recipient's own name wins over any "name" the event's context holds.
            context["name"] = getattr(self.recipient, "name", "")
            context.pop("first_name", None)
            language = getattr(self.recipient, "language", "")
            if language and language != DEFAULT_LANGUAGE:
                context.setdefault("language", language)
        if "name" in context:
            context.setdefault("first_name", (context["name"] or "").split(" ")[0] or "there")
        return context


class DeliveryEvent(models.Model):
    """A step in a delivery's history: an attempt's outcome, a provider event, a staff action."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=16, choices=Delivery.Status.choices)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["delivery", "at"], name="delivery_event_by_delivery")]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.status}"


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


# --- Copy staff edit: languages and versioned message templates ---------------------------------


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


class DeliveryDailyCount(models.Model):
    """What the retention job keeps of the deliveries it removed: counts per day, kind and channel.

    Counted per subject too (`subject_id`) for the subject types whose statistics need to know who
    got what (NOTIFICATIONS["RETENTION_COUNT_BY_SUBJECT"], the lead campaigns'); 0 for the others.
    A count holds the removed rows whose status was one of the statuses it names (a row opened was
    also delivered and sent); statistics add them to the rows still in the ledger.
    """

    day = models.DateField(help_text="The day the deliveries were planned (UTC).")
    kind = models.CharField(max_length=64)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    subject_type = models.CharField(max_length=64, blank=True)
    subject_id = models.BigIntegerField(default=0, help_text="0: every subject of the day together.")
    rows = models.PositiveIntegerField(default=0, help_text="Deliveries removed.")
    sent = models.PositiveIntegerField(default=0, help_text="Sent, delivered, opened or clicked.")
    delivered = models.PositiveIntegerField(default=0, help_text="Delivered, opened or clicked.")
    opened = models.PositiveIntegerField(default=0, help_text="Opened or clicked.")
    clicked = models.PositiveIntegerField(default=0)
    bounced = models.PositiveIntegerField(default=0)
    complained = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    suppressed = models.PositiveIntegerField(default=0)
    expired = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)
    first_sent_at = models.DateTimeField(null=True, blank=True, help_text="The earliest send among them.")
    cost = models.DecimalField(
        max_digits=14, decimal_places=4, default=0, help_text="What they cost (INR, estimated): WhatsApp messages."
    )

    class Meta:
        ordering = ["-day", "kind", "channel"]
        constraints = [
            models.UniqueConstraint(
                fields=["day", "kind", "channel", "subject_type", "subject_id"], name="delivery_count_unique"
            ),
        ]
        indexes = [
            models.Index(
                fields=["subject_type", "subject_id"], condition=~Q(subject_id=0), name="delivery_count_subject"
            ),
        ]

    def __str__(self):
        return f"{self.day} {self.kind} {self.get_channel_display()}: {self.sent} sent"


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
