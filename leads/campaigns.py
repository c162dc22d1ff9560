"""
The lead campaign: Day 0 email on import, Day 3 "Still interested?", Day 7 final offer,
and conversion tracking when a lead submits the CTA form.

Days count from the lead's first contact (Day 0). A lead that converted or unsubscribed gets
nothing more; after downtime a lead past Day 7 gets the Day 7 email only, not both.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.urls import reverse
from django.utils import timezone

from notifications.formatting import format_when
from notifications.models import Channel, Delivery, Suppression
from notifications.services.ledger import cancel_deliveries
from notifications.services.planning import PlannedMessage, PlanResult, Recipient, plan_messages

from . import messages
from .models import CrmActivity, CTASubmission, Lead, LeadCampaign

LEAD_REF_SALT = "leads.cta.ref"
FOLLOW_UP_DAYS = {3: messages.LEAD_DAY3.name, 7: messages.LEAD_DAY7.name}
LEAD_KINDS = (messages.LEAD_DAY0.name, messages.LEAD_DAY3.name, messages.LEAD_DAY7.name)


def make_lead_ref(lead_id: int) -> str:
    """Return a signed, expiring reference to a lead for campaign links (attribution without trusting input)."""
    return signing.TimestampSigner(salt=LEAD_REF_SALT).sign(str(lead_id))


def read_lead_ref(ref: str) -> int | None:
    """Return the lead id in a signed reference, or None when it is forged or expired."""
    try:
        value = signing.TimestampSigner(salt=LEAD_REF_SALT).unsign(ref, max_age=settings.LEAD_REF_MAX_AGE_DAYS * 86400)
    except signing.BadSignature:
        return None
    return int(value) if value.isdigit() else None


def cta_url(lead_id: int, *, base: str | None = None) -> str:
    return f"{base or settings.SITE_URL + reverse('leads:cta')}?ref={make_lead_ref(lead_id)}"


def _unsubscribed():
    """True for leads whose address refuses marketing email (unsubscribed, bounced, complained)."""
    return Exists(
        Suppression.objects.filter(channel=Channel.EMAIL, address=OuterRef("email"), category__in=["", "marketing"])
    )


def _cta_base() -> str:
    return f"{settings.SITE_URL}{reverse('leads:cta')}"


def _lead_message(lead: dict, *, kind: str, now: dt.datetime, base: str) -> PlannedMessage:
    context = {"cta_url": cta_url(lead["pk"], base=base)}
    if kind == messages.LEAD_DAY7.name:
        offer = settings.LEAD_OFFER
        context.update(
            offer_discount=offer["discount_percent"],
            offer_resources=list(offer["resources"]),
            offer_ends=format_when(now + dt.timedelta(days=offer["valid_days"]), tz=settings.TIME_ZONE),
        )
    return PlannedMessage(
        recipient=Recipient(user_id=None, email=lead["email"], name=lead["name"]),
        event_key=str(lead["pk"]),
        context=context,
        subject_type="leads.lead",
        subject_id=lead["pk"],
    )


@dataclass
class CampaignStart:
    campaign: LeadCampaign
    plan: PlanResult

    @property
    def leads_emailed(self) -> int:
        return self.plan.planned[Channel.EMAIL]


@transaction.atomic
def start_lead_campaign(
    *, import_batch=None, lead_ids: Iterable[int] | None = None, now: dt.datetime | None = None, name: str = ""
) -> CampaignStart:
    """Start (or extend) the campaign of an import batch and plan Day 0 to its new leads."""
    now = now or timezone.now()
    if import_batch is None and not lead_ids:
        raise ValueError("Name an import batch or some leads.")
    campaign = None
    if import_batch is not None:
        campaign, _ = LeadCampaign.objects.get_or_create(
            import_batch=import_batch, defaults={"name": name or f"Import #{import_batch.pk}", "started_at": now}
        )
    leads = Lead.objects.filter(status=Lead.Status.NEW).exclude(_unsubscribed())
    if import_batch is not None:
        leads = leads.filter(import_batch=import_batch)
    if lead_ids:
        leads = leads.filter(pk__in=list(lead_ids))
    if campaign is None:
        campaign = LeadCampaign.objects.create(name=name or "Manual campaign", started_at=now)
    rows = list(leads.select_for_update(skip_locked=True).values("pk", "email", "name"))
    base = _cta_base()
    plan = plan_messages(
        kind=messages.LEAD_DAY0.name,
        messages=[_lead_message(row, kind=messages.LEAD_DAY0.name, now=now, base=base) for row in rows],
        now=now,
    )
    ids = [row["pk"] for row in rows]
    Lead.objects.filter(pk__in=ids).update(
        status=Lead.Status.CONTACTED, campaign=campaign, first_contacted_at=now, last_contacted_at=now
    )
    LeadCampaign.objects.filter(pk=campaign.pk).update(total_leads=Lead.objects.filter(campaign=campaign).count())
    campaign.refresh_from_db()
    return CampaignStart(campaign=campaign, plan=plan)


def plan_lead_follow_ups(*, now: dt.datetime, dry_run: bool = False, campaign_id=None, days=None) -> PlanResult:
    """Plan Day 3 and Day 7 emails to contacted leads that have not converted or unsubscribed."""
    result = PlanResult()
    for day in sorted(FOLLOW_UP_DAYS, reverse=True):  # Day 7 first: a late lead gets only the last email
        if days and day not in days:
            continue
        result.merge(_plan_follow_up(day=day, now=now, dry_run=dry_run, campaign_id=campaign_id))
    return result


@transaction.atomic
def _plan_follow_up(*, day: int, now: dt.datetime, dry_run: bool, campaign_id) -> PlanResult:
    kind = FOLLOW_UP_DAYS[day]
    leads = Lead.objects.filter(
        status=Lead.Status.CONTACTED,
        campaign__status=LeadCampaign.Status.ACTIVE,
        first_contacted_at__lte=now - dt.timedelta(days=day),
        follow_up_day7_sent=False,
    ).exclude(_unsubscribed())
    if day == 3:
        leads = leads.filter(follow_up_day3_sent=False, first_contacted_at__gt=now - dt.timedelta(days=7))
    if campaign_id:
        leads = leads.filter(campaign_id=campaign_id)
    if not dry_run:
        leads = leads.select_for_update(skip_locked=True, of=("self",))
    rows = list(leads.order_by("pk").values("pk", "email", "name"))
    base = _cta_base()
    plan = plan_messages(
        kind=kind,
        messages=[_lead_message(row, kind=kind, now=now, base=base) for row in rows],
        now=now,
        dry_run=dry_run,
    )
    if not dry_run and rows:
        flag = "follow_up_day3_sent" if day == 3 else "follow_up_day7_sent"
        Lead.objects.filter(pk__in=[row["pk"] for row in rows]).update(**{flag: True, "last_contacted_at": now})
    return plan


@transaction.atomic
def track_lead_conversion(
    *, submission: CTASubmission, lead_ref: str = "", now: dt.datetime | None = None
) -> Lead | None:
    """Mark the lead behind a CTA submission converted, once; cancel its remaining follow-ups."""
    now = now or timezone.now()
    lead_id = read_lead_ref(lead_ref) if lead_ref else None
    leads = Lead.objects.select_for_update()
    lead = leads.filter(pk=lead_id).first() if lead_id else None
    if lead is None:
        lead = leads.filter(email__iexact=submission.email).first()
    if lead is None:
        return None
    if submission.lead_id != lead.pk:
        CTASubmission.objects.filter(pk=submission.pk).update(lead=lead)
    if lead.status == Lead.Status.CONVERTED:
        return lead  # counted already
    lead.status = Lead.Status.CONVERTED
    lead.converted_at = now
    if lead.cta_submission_id is None:
        lead.cta_submission = submission
    lead.save(update_fields=["status", "converted_at", "cta_submission"])
    if lead.campaign_id:
        LeadCampaign.objects.filter(pk=lead.campaign_id).update(conversions=F("conversions") + 1)
    cancel_deliveries(
        deliveries=Delivery.objects.filter(subject_type="leads.lead", subject_id=lead.pk, kind__in=LEAD_KINDS),
        reason="The lead converted.",
        now=now,
    )
    CrmActivity.objects.create(
        kind=CrmActivity.Kind.LEAD_CONVERTED,
        lead=lead,
        submission=submission,
        description=f"{lead.email} submitted the CTA form"
        + (" (campaign link)." if lead_id else " (matched by email)."),
        created_at=now,
    )
    return lead


def unwanted_lead_emails(deliveries) -> dict[int, str]:
    """Campaign emails to leads that converted, unsubscribed or bounced since they were planned."""
    deliveries = [d for d in deliveries if d.subject_type == "leads.lead"]
    stopped = dict(
        Lead.objects.filter(pk__in={d.subject_id for d in deliveries})
        .exclude(status__in=[Lead.Status.NEW, Lead.Status.CONTACTED])
        .values_list("pk", "status")
    )
    return {d.pk: f"lead_{stopped[d.subject_id]}" for d in deliveries if d.subject_id in stopped}
