"""
The delivery ledger (outbox): `Delivery`, one row per (event, recipient, channel), unique by those
three integers (`MessageEvent` names the event once for all its rows). That row, not a flag on a
session or a payment, is what "already sent" means. See shared/DESIGN.md, "The delivery ledger".
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from ..recipients import first_name, stored_language
from .choices import Channel


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
    # Staff held this event's messages (the outbox): rows planned after the hold are held by the
    # dispatcher's gate instead of sent, until staff release the event. NULL: not held.
    held_at = models.DateTimeField(null=True, blank=True)
    hold_reason = models.CharField(max_length=255, blank=True, default="", db_default="")

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
        """Create one delivery made by hand (a staff test send, a test), and its event.

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
        # Staff held it (the outbox): never claimed while held; released, it is pending again.
        HELD = "held", "Held by staff"
        # The attention budget: past the recipient's daily cap, waiting for their digest; then in it.
        FOLDED = "folded", "Folded into the digest"
        DIGESTED = "digested", "Sent in a digest"

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
            # The dispatcher's queue: only pending rows, urgent first, in due order, in the claim's own
            # order (id last), so a claim reads its batch off the index and sorts nothing: without `id`
            # a claim sorted every row of a tie (a blast's rows share their moment), 140 ms at 100k.
            models.Index(
                fields=["priority", "next_attempt_at", "id"],
                condition=Q(status="pending"),
                name="delivery_due_in_order",
            ),
            # Lease expiry scans only rows being sent.
            models.Index(fields=["claimed_at"], condition=Q(status="sending"), name="delivery_sending"),
            models.Index(fields=["recipient", "-created_at"], name="delivery_recipient_recent"),
            # The attention budget's daily cap: what each claimed row's recipient was handed today.
            # By recipient alone a claim read every row of their history (4.5 s a claim of 500 on a
            # 30-day ledger, bench.big_ledger); the time in the key reads today's rows only.
            models.Index(
                fields=["recipient", "handed_over_at"],
                condition=Q(handed_over_at__isnull=False),
                name="delivery_recipient_handed",
            ),
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
            language = stored_language(getattr(self.recipient, "language", ""))
            if language:
                context.setdefault("language", language)
        if "name" in context:
            context.setdefault("first_name", first_name(context["name"]))
        return context


class DeliveryEvent(models.Model):
    """A step in a delivery's history: an attempt's outcome, a provider event, a staff action."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=16, choices=Delivery.Status.choices)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["delivery", "at"], name="delivery_event_by_delivery"),
            # The attention budget's holds, folds and digests per day (notifications.attention_counts,
            # whose ATTENTION_EVENTS is this condition).
            models.Index(
                fields=["at"],
                condition=Q(detail__startswith="held_")
                | Q(detail__startswith="expired_quiet")
                | Q(status__in=["folded", "digested"])
                | Q(detail__startswith="dropped_"),
                name="delivery_event_attention",
            ),
        ]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.status}"
