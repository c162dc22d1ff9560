"""Campaign statistics and ROI, computed from the ledger and the leads (nothing is counted twice)."""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q, Sum

from lms.models import Payment
from notifications.models import Channel, Delivery, Suppression

from . import messages
from .models import CTASubmission, Lead, LeadCampaign

STEPS = ((0, messages.LEAD_DAY0.name), (3, messages.LEAD_DAY3.name), (7, messages.LEAD_DAY7.name))
SENT = [
    Delivery.Status.SENT,
    Delivery.Status.DELIVERED,
    Delivery.Status.OPENED,
    Delivery.Status.CLICKED,
    Delivery.Status.BOUNCED,
    Delivery.Status.COMPLAINED,
]
FAILED = [Delivery.Status.FAILED, Delivery.Status.UNKNOWN]


@dataclass
class StepStats:
    day: int
    sent: int = 0
    failed: int = 0
    bounced: int = 0
    conversions: int = 0  # leads whose last email before converting was this step

    @property
    def conversion_rate(self) -> float:
        return self.conversions / self.sent if self.sent else 0.0


@dataclass
class CampaignStats:
    campaign: LeadCampaign
    leads: int
    steps: list[StepStats] = field(default_factory=list)
    unsubscribes: int = 0
    bounces: int = 0
    conversions: int = 0
    approvals: int = 0
    revenue: Decimal = Decimal("0")
    cost: Decimal = Decimal("0")

    @property
    def conversion_rate(self) -> float:
        return self.conversions / self.leads if self.leads else 0.0

    @property
    def roi(self) -> float | None:
        """(revenue - cost) / cost; None when the campaign cost nothing."""
        return float((self.revenue - self.cost) / self.cost) if self.cost else None

    @property
    def funnel(self) -> list[tuple[str, int]]:
        emailed = self.steps[0].sent if self.steps else 0
        return [
            ("Leads", self.leads),
            ("Emailed", emailed),
            ("Converted", self.conversions),
            ("Approved", self.approvals),
        ]


def campaign_stats(*, campaign: LeadCampaign) -> CampaignStats:
    """Return a campaign's statistics: per-step sends and conversions, unsubscribes, revenue and ROI."""
    leads = Lead.objects.filter(campaign=campaign)
    lead_ids = leads.values("pk")
    emails = leads.values("email")
    by_kind = {
        row["kind"]: row
        for row in Delivery.objects.filter(subject_type="leads.lead", subject_id__in=lead_ids, channel=Channel.EMAIL)
        .values("kind")
        .annotate(
            sent=Count("id", filter=Q(status__in=SENT)),
            failed=Count("id", filter=Q(status__in=FAILED)),
            bounced=Count("id", filter=Q(status=Delivery.Status.BOUNCED)),
        )
    }
    steps = []
    for day, kind in STEPS:
        row = by_kind.get(kind, {})
        steps.append(
            StepStats(day=day, sent=row.get("sent", 0), failed=row.get("failed", 0), bounced=row.get("bounced", 0))
        )

    converted = list(
        leads.filter(status=Lead.Status.CONVERTED).values_list("follow_up_day3_sent", "follow_up_day7_sent")
    )
    # Each conversion counts for the last step the lead was sent before converting.
    for day3, day7 in converted:
        step = 2 if day7 else 1 if day3 else 0
        steps[step].conversions += 1

    converted_emails = leads.filter(status=Lead.Status.CONVERTED).values("email")
    revenue = Payment.objects.filter(
        status=Payment.Status.PAID, currency=campaign.currency, student__email__in=converted_emails
    ).aggregate(total=Sum("amount"))["total"] or Decimal("0")
    return CampaignStats(
        campaign=campaign,
        leads=leads.count(),
        steps=steps,
        unsubscribes=Suppression.objects.filter(
            channel=Channel.EMAIL, address__in=emails, reason=Suppression.Reason.UNSUBSCRIBED
        ).count(),
        bounces=Suppression.objects.filter(
            channel=Channel.EMAIL,
            address__in=emails,
            reason__in=[Suppression.Reason.BOUNCED, Suppression.Reason.COMPLAINED],
        ).count(),
        conversions=len(converted),
        approvals=CTASubmission.objects.filter(lead__campaign=campaign, status=CTASubmission.Status.APPROVED)
        .values("lead")
        .distinct()
        .count(),
        revenue=revenue,
        cost=campaign.cost,
    )
