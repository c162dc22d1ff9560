"""Leads from CSV imports, their Day 0/3/7 campaign, CTA submissions and the CRM trail."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from lms.models import PhoneField, default_currency
from notifications.api import LanguageField


class ImportBatch(models.Model):
    class Status(models.TextChoices):
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    source = models.CharField(max_length=100, blank=True, help_text="Where the list came from.")
    filename = models.CharField(max_length=255, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.COMPLETED)
    total_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)
    invalid_count = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=list, blank=True, help_text="Row-by-row outcome of the import.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "import batches"
        ordering = ["-created_at"]

    def __str__(self):
        return f"Import #{self.pk} {self.filename or self.source} ({self.created_count} new)"


class LeadCampaign(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"

    name = models.CharField(max_length=200, blank=True)
    import_batch = models.OneToOneField(
        ImportBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="campaign"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    total_leads = models.PositiveIntegerField(default=0)
    conversions = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0"), help_text="What the campaign cost, for ROI."
    )
    currency = models.CharField(max_length=3, default=default_currency)
    started_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.CheckConstraint(condition=Q(cost__gte=0), name="campaign_cost_not_negative"),
            models.CheckConstraint(
                condition=Q(conversions__lte=models.F("total_leads")), name="campaign_conversions_le_leads"
            ),
        ]

    def __str__(self):
        return self.name or f"Campaign #{self.pk}"


class CTASubmission(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    name = models.CharField(max_length=150)
    email = models.EmailField()
    phone = PhoneField()
    message = models.TextField(blank=True)
    whatsapp_opt_in = models.BooleanField("WhatsApp opt-in", default=False)
    language = LanguageField(
        help_text="The language the form was filled in: the new account's, and that of messages to the submitter."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    lead = models.ForeignKey("Lead", null=True, blank=True, on_delete=models.SET_NULL, related_name="submissions")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="cta_submissions"
    )
    processed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    processed_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "CTA submission"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["created_at"], condition=Q(status="pending"), name="cta_pending")]
        permissions = [("approve_ctasubmission", "Can approve or reject CTA submissions")]

    def __str__(self):
        return f"{self.name} <{self.email}> ({self.status})"


class Lead(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "New"
        CONTACTED = "contacted", "Contacted"
        CONVERTED = "converted", "Converted"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        BOUNCED = "bounced", "Bounced"

    email = models.EmailField()
    name = models.CharField(max_length=150, blank=True)
    phone = PhoneField()
    language = LanguageField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    import_batch = models.ForeignKey(
        ImportBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="leads"
    )
    campaign = models.ForeignKey(LeadCampaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="leads")
    source = models.CharField(max_length=100, blank=True)
    data = models.JSONField(default=dict, blank=True, help_text="Other columns from the imported file.")
    # Day 0: the follow-ups count their days from here.
    first_contacted_at = models.DateTimeField(null=True, blank=True)
    last_contacted_at = models.DateTimeField(null=True, blank=True)
    follow_up_day3_sent = models.BooleanField(default=False)
    follow_up_day7_sent = models.BooleanField(default=False)
    cta_submission = models.OneToOneField(
        CTASubmission, null=True, blank=True, on_delete=models.SET_NULL, related_name="converted_lead"
    )
    converted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="lead_email_ci_unique"),
            models.CheckConstraint(
                condition=Q(status="converted", converted_at__isnull=False) | ~Q(status="converted"),
                name="lead_converted_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "status"], name="lead_campaign_status"),
            models.Index(fields=["first_contacted_at"], condition=Q(status="contacted"), name="lead_follow_up_due"),
        ]

    def __str__(self):
        return f"{self.name} <{self.email}>" if self.name else self.email


class CrmActivity(models.Model):
    class Kind(models.TextChoices):
        LEAD_IMPORTED = "lead_imported", "Lead imported"
        EMAIL_PLANNED = "email_planned", "Email planned"
        CTA_SUBMITTED = "cta_submitted", "CTA submitted"
        LEAD_CONVERTED = "lead_converted", "Lead converted"
        USER_CREATED = "user_created", "Student account created"
        WELCOME_EMAIL = "welcome_email", "Welcome email queued"
        WELCOME_WHATSAPP = "welcome_whatsapp", "WhatsApp welcome queued"
        CALL_SCHEDULED = "call_scheduled", "Welcome call scheduled"
        ADMIN_NOTIFIED = "admin_notified", "Staff notified"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        BOUNCED = "bounced", "Email bounced"
        NOTE = "note", "Note"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    description = models.TextField(blank=True)
    lead = models.ForeignKey(Lead, null=True, blank=True, on_delete=models.CASCADE, related_name="activities")
    submission = models.ForeignKey(
        CTASubmission, null=True, blank=True, on_delete=models.CASCADE, related_name="activities"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="crm_activities"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "CRM activities"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["submission", "created_at"], name="crm_by_submission"),
            models.Index(fields=["lead", "created_at"], name="crm_by_lead"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.description[:60]}"


class WelcomeCall(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    student = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="welcome_calls")
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_calls"
    )
    submission = models.OneToOneField(
        CTASubmission, null=True, blank=True, on_delete=models.SET_NULL, related_name="welcome_call"
    )
    scheduled_at = models.DateTimeField()
    duration_minutes = models.PositiveIntegerField(default=30)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["scheduled_at"]

    def __str__(self):
        # In the zone the admin shows every time in (one zone per page), named.
        return f"Welcome call with {self.student} at {timezone.localtime(self.scheduled_at):%Y-%m-%d %H:%M %Z}"
