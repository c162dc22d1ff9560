"""
Campaign statistics and ROI: every figure from one source, so the page and the command agree.

"Emailed" means one thing everywhere: the ledger holds a sent row for the lead, a delivery
whose status is sent, delivered, opened or clicked (a bounce or a failure is not a send).
Lead counts come from the leads' status (which unsubscribes and bounces now set), money from
paid payments. The admin page and `lead_campaign stats` both show `campaign_stats()`.

The retention job removes old rows once their life is over and keeps, for each lead, day and
email kind, the counts of what they were: every figure adds those counts to the rows still in the
ledger (notifications' `delivery_counts_for_subjects` and its siblings do). A row is in one or the
other, never both (it is counted and deleted in one transaction), so nothing is counted twice.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Sum
from django.utils.translation import gettext_noop

from common.formatting import format_money
from lms.models import Payment
from notifications.api import (
    Channel,
    count_subjects_sent_to,
    delivery_counts_for_subjects,
    send_times_for_subjects,
    spend_for_subjects,
)

from . import messages
from .links import LEAD, SUBMISSION
from .models import CTASubmission, Lead, LeadCampaign

STEPS = ((0, messages.LEAD_DAY0.name), (3, messages.LEAD_DAY3.name), (7, messages.LEAD_DAY7.name))


@dataclass
class StepStats:
    day: int
    sent: int = 0
    bounced: int = 0
    failed: int = 0
    waiting: int = 0  # planned, not sent yet
    conversions: int = 0  # converted leads whose last email sent before converting was this step


@dataclass
class CampaignStats:
    campaign: LeadCampaign
    imported: int | None  # new leads of the campaign's import (None: started without one)
    leads: int  # in the campaign (contacted at least once)
    emailed: int  # leads with at least one sent row
    steps: list[StepStats] = field(default_factory=list)
    unsubscribes: int = 0
    bounces: int = 0
    conversions: int = 0
    approvals: int = 0
    paying: int = 0  # converted leads with a paid payment
    revenue: Decimal = Decimal("0")
    cost: Decimal = Decimal("0")  # as staff entered it
    whatsapp_messages: int = 0  # sent to the campaign's leads, and welcomes to those it converted
    whatsapp_cost: Decimal = Decimal("0")  # their estimated cost (INR)

    @property
    def total_cost(self) -> Decimal:
        return self.cost + self.whatsapp_cost

    @property
    def conversion_rate(self) -> float:
        """The campaign's one conversion rate (CONVERSION_RATE_DEFINITION)."""
        return conversion_rate(conversions=self.conversions, leads=self.leads)

    @property
    def roi(self) -> float | None:
        """(revenue - cost) / cost, WhatsApp messages included; None when the campaign cost nothing."""
        return float((self.revenue - self.total_cost) / self.total_cost) if self.total_cost else None

    @property
    def funnel(self) -> list[tuple[str, int]]:
        stages = [] if self.imported is None else [("Imported", self.imported)]
        return [
            *stages,
            ("In campaign", self.leads),
            ("Emailed", self.emailed),
            ("Converted", self.conversions),
            ("Approved", self.approvals),
            ("Paid", self.paying),
        ]


# One conversion rate, shown with its definition wherever a campaign's rate is shown (the list of
# campaigns, its page, the command). Per step, the page counts conversions, not a rate of its own.
CONVERSION_RATE_DEFINITION = gettext_noop("Conversion rate = leads converted ÷ leads in the campaign.")


def conversion_rate(*, conversions: int, leads: int) -> float:
    """Leads converted per lead in the campaign (0 when it has none)."""
    return conversions / leads if leads else 0.0


def campaign_stats(*, campaign: LeadCampaign) -> CampaignStats:
    """Return a campaign's statistics: per-step sends and conversions, unsubscribes, revenue and ROI."""
    leads = Lead.objects.filter(campaign=campaign)
    emails = {"subject_type": LEAD, "subject_ids": leads.values("pk"), "channel": Channel.EMAIL}
    by_kind = delivery_counts_for_subjects(**emails)
    counts = ("sent", "bounced", "failed", "waiting")
    steps = [StepStats(day=day, **{key: by_kind.get(kind, {}).get(key, 0) for key in counts}) for day, kind in STEPS]
    by_status = dict(leads.values_list("status").annotate(count=Count("pk")).order_by())
    converted = dict(leads.filter(status=Lead.Status.CONVERTED).values_list("pk", "converted_at"))
    for step in _last_steps_before_converting(converted).values():
        steps[step].conversions += 1
    paid = _paid(campaign=campaign, leads=leads)
    whatsapp = _whatsapp_spend(campaign=campaign, leads=leads)
    batch_id = campaign.import_batch_id
    return CampaignStats(
        campaign=campaign,
        imported=Lead.objects.filter(import_batch_id=batch_id).count() if batch_id else None,
        leads=sum(by_status.values()),
        emailed=count_subjects_sent_to(**emails),
        steps=steps,
        unsubscribes=by_status.get(Lead.Status.UNSUBSCRIBED, 0),
        bounces=by_status.get(Lead.Status.BOUNCED, 0),
        conversions=len(converted),
        approvals=CTASubmission.objects.filter(lead__campaign=campaign, status=CTASubmission.Status.APPROVED)
        .values("lead")
        .distinct()
        .count(),
        paying=paid["paying"] or 0,
        revenue=paid["total"] or Decimal("0"),
        cost=campaign.cost,
        whatsapp_messages=whatsapp["messages"],
        whatsapp_cost=whatsapp["cost"],
    )


def _last_steps_before_converting(converted: dict[int, dt.datetime]) -> dict[int, int]:
    """Per converted lead (`{lead id: when it converted}`), the index in STEPS of the last step
    emailed to it before it converted (leads emailed no step before converting are left out)."""
    step_of_kind = {kind: index for index, (_, kind) in enumerate(STEPS)}
    last_step: dict[int, int] = {}
    sends = send_times_for_subjects(subject_type=LEAD, subject_ids=list(converted), channel=Channel.EMAIL)
    for lead_id, kind, sent_at in sends:
        if kind in step_of_kind and sent_at and sent_at <= converted[lead_id]:
            last_step[lead_id] = max(last_step.get(lead_id, 0), step_of_kind[kind])
    return last_step


def _paid(*, campaign: LeadCampaign, leads) -> dict:
    """The campaign's converted leads' paid payments in its currency: their total and how many paid."""
    converted_emails = leads.filter(status=Lead.Status.CONVERTED).values("email")
    return Payment.objects.filter(
        status=Payment.Status.PAID, currency=campaign.currency, student__email__in=converted_emails
    ).aggregate(total=Sum("amount"), paying=Count("student", distinct=True))


def _whatsapp_spend(*, campaign: LeadCampaign, leads) -> dict:
    """The WhatsApp messages a campaign paid for, live and removed by retention: to its leads, and the
    welcome to each lead it converted."""
    submissions = CTASubmission.objects.filter(lead__campaign=campaign).values("pk")
    return spend_for_subjects(subjects={LEAD: leads.values("pk"), SUBMISSION: submissions}, channel=Channel.WHATSAPP)


STEP_HEADERS = ["Step", "Sent", "Bounced", "Failed", "Waiting", "Conversions (last email before converting)"]


def step_rows(stats: CampaignStats) -> list[list]:
    """The per-step table, as the admin page and the command both show it."""
    return [
        [
            f"Day {step.day}",
            step.sent,
            step.bounced,
            step.failed,
            step.waiting,
            step.conversions,
        ]
        for step in stats.steps
    ]


def summary_rows(stats: CampaignStats, *, money) -> list[tuple[str, str]]:
    """The campaign's totals and ROI in words, as the admin page and the command both show them."""
    roi = "n/a (enter the campaign's cost)" if stats.roi is None else f"{stats.roi:+.0%}"
    rows = [] if stats.imported is None else [("Imported", str(stats.imported))]
    return [
        *rows,
        ("Leads in the campaign", str(stats.leads)),
        ("Emailed (at least one email sent)", str(stats.emailed)),
        ("Converted", str(stats.conversions)),
        ("Conversion rate", f"{stats.conversion_rate:.1%} (leads converted ÷ leads in the campaign)"),
        ("Approved", str(stats.approvals)),
        ("Unsubscribed", str(stats.unsubscribes)),
        ("Bounced", str(stats.bounces)),
        ("Paid (converted leads who paid)", str(stats.paying)),
        ("Revenue (paid)", money(stats.revenue)),
        ("Cost", money(stats.cost)),
        ("WhatsApp messages", str(stats.whatsapp_messages)),
        ("WhatsApp cost (estimated)", format_money(stats.whatsapp_cost, "INR")),
        ("ROI", roi),
    ]
