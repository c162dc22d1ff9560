"""What the retention job keeps of the deliveries it removed."""

from django.db import models
from django.db.models import Q

from .choices import Channel


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
