"""
The lead campaign: Day 0 email on import, Day 3 "Still interested?", Day 7 final offer,
and conversion tracking when a lead submits the CTA form.

Days count from the lead's first contact (Day 0). A lead that converted or unsubscribed gets
nothing more; after downtime a lead past Day 7 gets the Day 7 email only, not both.
"""

import datetime as dt
import operator
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache, reduce

from django.core.exceptions import EmptyResultSet
from django.db import connections, router, transaction
from django.db.models import BigIntegerField, Count, Exists, F, OuterRef, Q, TextField, Value
from django.db.models.functions import Cast, Lower
from django.utils import timezone

from common.db import update_returning_ids
from notifications.api import (
    Audience,
    Channel,
    Group,
    PlanResult,
    cancel_for_subject,
    has_whatsapp_template,
    marketing_suppressions,
    plan_audience,
    whatsapp_marketing_consents,
)

from . import messages
from .conf import conf
from .links import LEAD, read_lead_ref
from .models import CrmActivity, CTASubmission, Lead, LeadCampaign
from .optouts import record_lead_opt_outs

FOLLOW_UP_DAYS = {3: messages.LEAD_DAY3.name, 7: messages.LEAD_DAY7.name}
LEAD_KINDS = (messages.LEAD_DAY0.name, messages.LEAD_DAY3.name, messages.LEAD_DAY7.name)


def _unsubscribed():
    """True for leads whose address refuses marketing email (unsubscribed, bounced, complained)."""
    return Exists(marketing_suppressions(channel=Channel.EMAIL, address=Lower(OuterRef("email"))))


def _day_context(kind: str, now: dt.datetime) -> dict:
    """What every lead's email of `kind` shares (the Day 7 offer)."""
    if kind != messages.LEAD_DAY7.name:
        return {}
    return {
        "offer_discount": conf.offer_discount_percent,
        "offer_resources": list(conf.offer_resources),
        # A moment, put in each reader's words when their email is rendered (messages.offer_end_words).
        "offer_ends_at": (now + dt.timedelta(days=conf.offer_valid_days)).isoformat(),
    }


def _plan_leads(
    leads, *, kind: str, now: dt.datetime, dry_run: bool = False, consent: Callable[[], bool] | None = None
) -> PlanResult:
    """Plan `kind` to the `leads` (a Lead queryset) in a few statements, whatever their number
    (`consent`: says whether anyone gave WhatsApp marketing consent; a run planning several kinds
    asks once)."""
    shared = Group(context=_day_context(kind, now))
    rows = leads.values(
        "email",
        "name",
        "phone",
        "language",
        recipient_id=Cast(Value(None), output_field=BigIntegerField()),
        # Offers on WhatsApp only to a number whose marketing consent is given (the gate checks again).
        whatsapp_opt_in=Exists(whatsapp_marketing_consents(address=OuterRef("phone"))),
        subject_id=F("pk"),
        event_key=Cast("pk", output_field=TextField()),
    )
    audience = Audience(
        rows=rows,
        group_by=(),
        make_group=lambda row: shared,
        subject_type=LEAD,
        row_context={"lead_id": "subject_id"},
        accounts=False,
        group_by_language=False,  # the same offer in every language (each row keeps its lead's language)
        # On WhatsApp too only once the kind has an approved template and someone gave marketing
        # consent: otherwise the campaign goes by email alone, at no cost in statements.
        channels=None if _whatsapp_campaign(kind, consent=consent) else (Channel.EMAIL,),
    )
    return plan_audience(kind=kind, audience=audience, now=now, dry_run=dry_run)


def _whatsapp_campaign(kind: str, *, consent: Callable[[], bool] | None = None) -> bool:
    """Whether a campaign email of `kind` may also go on WhatsApp this run."""
    return has_whatsapp_template(kind) and (consent or _marketing_consent_given)()


def _marketing_consent_given() -> bool:
    return whatsapp_marketing_consents().exists()


@dataclass
class CampaignStart:
    campaign: LeadCampaign
    plan: PlanResult

    @property
    def leads_emailed(self) -> int:
        return self.plan.planned[Channel.EMAIL]


@transaction.atomic
def start_lead_campaign(
    *,
    import_batch=None,
    lead_ids: Iterable[int] | None = None,
    now: dt.datetime | None = None,
    name: str = "",
    campaign: LeadCampaign | None = None,
) -> CampaignStart:
    """Start (or extend) the campaign of an import batch, or `campaign`, and plan Day 0 to its new leads."""
    now = now or timezone.now()
    if import_batch is None and not lead_ids:
        raise ValueError("Name an import batch or some leads.")
    if import_batch is not None:
        campaign, _ = LeadCampaign.objects.get_or_create(
            import_batch=import_batch, defaults={"name": name or f"Import #{import_batch.pk}", "started_at": now}
        )
    leads = Lead.objects.filter(status=Lead.Status.NEW)
    if import_batch is not None:
        leads = leads.filter(import_batch=import_batch)
    if lead_ids:
        leads = leads.filter(pk__in=list(lead_ids))
    # A lead whose address already refuses marketing email is marked so, not contacted.
    record_lead_opt_outs(leads=leads, now=now)
    leads = leads.exclude(_unsubscribed())
    if campaign is None:
        campaign = LeadCampaign.objects.create(name=name or "Manual campaign", started_at=now)
    # Contacting first, then planning the leads contacted now: the update locks them, so a second
    # start at the same moment finds them contacted already and plans nothing twice.
    contacted = update_returning_ids(
        leads,
        guard={"status": Lead.Status.NEW},
        status=Lead.Status.CONTACTED,
        campaign_id=campaign.pk,
        first_contacted_at=now,
        last_contacted_at=now,
    )
    plan = _plan_leads(Lead.objects.filter(pk__any=contacted), kind=messages.LEAD_DAY0.name, now=now)
    LeadCampaign.objects.filter(pk=campaign.pk).update(total_leads=Lead.objects.filter(campaign=campaign).count())
    campaign.refresh_from_db()
    return CampaignStart(campaign=campaign, plan=plan)


@transaction.atomic
def plan_lead_follow_ups(*, now: dt.datetime, dry_run: bool = False, campaign_id=None, days=None) -> PlanResult:
    """Plan Day 3 and Day 7 emails to contacted leads that have not converted or unsubscribed."""
    result = PlanResult()
    # Day 7 first: a late lead gets only the last email.
    chosen = [day for day in sorted(FOLLOW_UP_DAYS, reverse=True) if not days or day in days]
    if not chosen:
        return result
    due = {day: _due(day=day, now=now, campaign_id=campaign_id) for day in chosen}
    if not dry_run:
        # Once for every day's leads: a lead whose address refuses marketing email is no longer
        # contacted after this (counted by its new status below), so the rest need not look again;
        # a suppression added meanwhile is the dispatch gate's to catch. A dry run records nothing.
        record_lead_opt_outs(leads=Lead.objects.filter(reduce(operator.or_, due.values()), contacted_now), now=now)
    skipped = _skipped_by_day(due, look_up_suppressions=dry_run)
    consent = cache(_marketing_consent_given)  # asked at most once, and only if a kind has a template
    to_email = {day: _due_leads(day=day, now=now, campaign_id=campaign_id).filter(contacted_now) for day in chosen}
    if dry_run:
        to_email = {day: leads.exclude(_unsubscribed()) for day, leads in to_email.items()}
    # Flag the leads first, then plan those flagged now, in this transaction: what is flagged is
    # exactly what is planned, and a concurrent run waits for these rows instead of taking them too.
    flagged = {} if dry_run else _flag(to_email, now=now)
    for day in chosen:
        kind = FOLLOW_UP_DAYS[day]
        if dry_run:
            plan = _plan_leads(to_email[day], kind=kind, now=now, dry_run=True, consent=consent)
        elif flagged[day]:
            plan = _plan_leads(Lead.objects.filter(pk__any=flagged[day]), kind=kind, now=now, consent=consent)
        else:
            plan = PlanResult()
        plan.skipped.update({f"lead_{reason}": count for reason, count in skipped[day].items() if count})
        result.merge(plan)
    return result


contacted_now = Q(status=Lead.Status.CONTACTED)


def _due(*, day: int, now: dt.datetime, campaign_id) -> Q:
    """Leads of active campaigns that have reached `day` and not had its email, whatever their status."""
    due = Q(
        campaign__status=LeadCampaign.Status.ACTIVE,
        first_contacted_at__lte=now - dt.timedelta(days=day),
        follow_up_day7_sent=False,
    )
    if day == 3:
        due &= Q(follow_up_day3_sent=False, first_contacted_at__gt=now - dt.timedelta(days=7))
    if campaign_id:
        due &= Q(campaign_id=campaign_id)
    return due


def _due_leads(*, day: int, now: dt.datetime, campaign_id):
    return Lead.objects.filter(_due(day=day, now=now, campaign_id=campaign_id))


def _skipped_by_day(due: dict[int, Q], *, look_up_suppressions: bool) -> dict[int, Counter]:
    """Who reached each day but gets nothing, by why, in one count for every day: by status, and (with
    `look_up_suppressions`, a dry run's, which records nothing) addresses suppressed but not yet
    recorded on the lead. The days' leads are apart (Day 3 is before Day 7), so flagging one day's
    leads changes no other day's count."""
    counts = Lead.objects.filter(reduce(operator.or_, due.values())).aggregate(
        **{
            f"{day}_{status}": Count("pk", filter=condition & Q(status=status))
            for day, condition in due.items()
            for status in Lead.Status.values
            if status != Lead.Status.CONTACTED
        },
        **{
            f"{day}_suppressed": Count("pk", filter=condition & contacted_now & Q(_unsubscribed()))
            for day, condition in due.items()
            if look_up_suppressions
        },
    )
    skipped = {day: Counter() for day in due}
    for name, count in counts.items():
        day, _, reason = name.partition("_")
        if count:
            skipped[int(day)][reason] = count
    return skipped


def _flag(to_email: dict, *, now: dt.datetime) -> dict[int, list]:
    """Set each day's flag (and last contact) on its leads in one UPDATE ... RETURNING; return each
    day's leads flagged now. Each row is checked as it is when the update reaches it (not flagged
    for its day, nor for Day 7), so a concurrent run flags, and plans, none of them twice."""
    connection = connections[router.db_for_write(Lead)]
    quote = connection.ops.quote_name
    parts, params = [], []
    for day, leads in to_email.items():
        try:
            inner, inner_params = leads.order_by().values("pk").query.sql_with_params()
        except EmptyResultSet:
            continue
        parts.append(f"SELECT due.*, {int(day)} AS day FROM ({inner}) due")
        params += inner_params
    flagged = {day: [] for day in to_email}
    if not parts:
        return flagged
    table = quote(Lead._meta.db_table)
    day7, day3 = quote("follow_up_day7_sent"), quote("follow_up_day3_sent")
    sql = (
        f"WITH flag (id, day) AS ({' UNION ALL '.join(parts)}) "
        f"UPDATE {table} SET {day7} = ({day7} OR flag.day = 7), {day3} = ({day3} OR flag.day = 3), "
        f"{quote('last_contacted_at')} = %s FROM flag "
        f"WHERE {table}.{quote('id')} = flag.id AND NOT {day7} AND (flag.day = 7 OR NOT {day3}) "
        # Which day, from the row itself (SQLite returns no other table's columns): Day 7's leads were
        # first contacted a week ago or more, Day 3's since.
        f"RETURNING {table}.{quote('id')}, CASE WHEN {quote('first_contacted_at')} <= %s THEN 7 ELSE 3 END"
    )
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, adapt(now), adapt(now - dt.timedelta(days=7))])
        for pk, day in cursor.fetchall():
            flagged[int(day)].append(pk)
    return flagged


@transaction.atomic
def track_lead_conversion(
    *, submission: CTASubmission, lead_ref: str = "", approved: bool = False, now: dt.datetime | None = None
) -> Lead | None:
    """Mark the lead behind a CTA submission converted, once; cancel its remaining follow-ups.

    Only proof counts: the signed reference of the lead's own campaign link, or staff approving the
    submission (then the lead it was linked to, else the lead with its email). An email typed on the
    public form proves nothing: anyone can type anyone's.
    """
    now = now or timezone.now()
    lead_id = read_lead_ref(lead_ref) if lead_ref else None
    leads = Lead.objects.select_for_update()
    lead = leads.filter(pk=lead_id).first() if lead_id else None
    if lead is None and approved:
        lead = leads.filter(pk=submission.lead_id).first() if submission.lead_id else None
        lead = lead or leads.filter(email__iexact=submission.email).first()
    if lead is None:
        return None
    if submission.lead_id != lead.pk:
        CTASubmission.objects.filter(pk=submission.pk).update(lead=lead)
    if lead.status == Lead.Status.CONVERTED:
        return lead  # counted already
    if lead.cta_submission_id is None:
        lead.cta_submission = submission
    how = " (campaign link)." if lead_id else " (approved by staff)."
    _convert(lead, now=now, submission=submission, description=f"{lead.email} submitted the CTA form{how}")
    return lead


def _convert(lead: Lead, *, now: dt.datetime, description: str, submission=None, actor=None) -> None:
    """Count a (locked, not yet converted) lead's conversion once: its campaign's count, its
    remaining follow-ups cancelled, a CRM row."""
    lead.status = Lead.Status.CONVERTED
    lead.converted_at = now
    lead.save(update_fields=["status", "converted_at", "cta_submission"])
    if lead.campaign_id:
        LeadCampaign.objects.filter(pk=lead.campaign_id).update(conversions=F("conversions") + 1)
    cancel_for_subject(subject_type=LEAD, subject_id=lead.pk, kinds=LEAD_KINDS, reason="The lead converted.", now=now)
    CrmActivity.objects.create(
        kind=CrmActivity.Kind.LEAD_CONVERTED,
        lead=lead,
        submission=submission,
        actor=actor,
        description=description,
        created_at=now,
    )


@transaction.atomic
def mark_leads_converted(*, lead_ids: Iterable[int], by, now: dt.datetime | None = None) -> tuple[int, int]:
    """Staff mark leads converted (a sale made outside the CTA form), each counted once, as the
    CTA conversion counts one; return (converted now, skipped: converted already)."""
    now = now or timezone.now()
    done = skipped = 0
    for lead in Lead.objects.select_for_update().filter(pk__in=list(lead_ids)).order_by("pk"):
        if lead.status == Lead.Status.CONVERTED:
            skipped += 1
            continue
        _convert(lead, now=now, actor=by, description=f"{lead.email} marked converted by {by.email}.")
        done += 1
    return done, skipped
