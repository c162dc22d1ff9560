"""
Leads who refuse marketing email: an unsubscribe, a complaint or a bounce moves the lead on.

notifications owns the suppression list and knows nothing of leads (DESIGN.md: imports point
one way). It adds a suppression wherever an address is found unusable (one-click
unsubscribe, a provider's bounce or complaint, staff); leads hears of each new row through
Django's `post_save` signal (leads/signals.py) and records it here, in the same transaction, so
the lead list says who unsubscribed or bounced and why. Campaign planning also calls this for
the leads it is about to email, which catches rows added without a signal (bulk loads, SQL).
"""

import datetime as dt
from collections.abc import Iterable

from django.db.models import Exists, OuterRef, Subquery
from django.db.models.functions import Lower
from django.utils import timezone

from notifications.api import Channel, SuppressionReason, marketing_suppressions

from .models import CrmActivity, Lead

Reason = SuppressionReason
# What a suppression's reason makes of a lead; anything else (a WhatsApp STOP) leaves it alone.
LEAD_STATUS = {
    Reason.UNSUBSCRIBED: Lead.Status.UNSUBSCRIBED,
    Reason.COMPLAINED: Lead.Status.UNSUBSCRIBED,
    Reason.OPTED_OUT: Lead.Status.UNSUBSCRIBED,
    Reason.MANUAL: Lead.Status.UNSUBSCRIBED,
    Reason.BOUNCED: Lead.Status.BOUNCED,
    Reason.INVALID: Lead.Status.BOUNCED,
}
CRM_KIND = {Lead.Status.UNSUBSCRIBED: CrmActivity.Kind.UNSUBSCRIBED, Lead.Status.BOUNCED: CrmActivity.Kind.BOUNCED}
# Leads still in play; a converted lead stays converted whatever happens to its address.
OPEN_STATUSES = (Lead.Status.NEW, Lead.Status.CONTACTED)


def record_lead_opt_outs(*, leads=None, addresses: Iterable[str] | None = None, now: dt.datetime | None = None) -> int:
    """Mark open leads whose address refuses marketing email unsubscribed or bounced, with a CRM
    entry saying why; return how many leads changed. Limit it to `leads` (a queryset) or `addresses`."""
    now = now or timezone.now()
    found = marketing_suppressions(channel=Channel.EMAIL, address=Lower(OuterRef("email")))
    candidates = (leads if leads is not None else Lead.objects.all()).filter(status__in=OPEN_STATUSES)
    if addresses is not None:
        candidates = candidates.annotate(email_lower=Lower("email")).filter(
            email_lower__in=[address.lower() for address in addresses]
        )
    # EXISTS first (one hashed semi-join over the leads), then the reason of the few it finds.
    rows = list(
        candidates.filter(Exists(found))
        .annotate(reason=Subquery(found.values("reason")[:1]), detail=Subquery(found.values("detail")[:1]))
        .values("pk", "email", "reason", "detail")
    )
    changed = 0
    activities = []
    for status in (Lead.Status.UNSUBSCRIBED, Lead.Status.BOUNCED):
        mine = [row for row in rows if LEAD_STATUS.get(row["reason"]) == status]
        if not mine:
            continue
        # Only leads still open at the update count (a concurrent conversion wins).
        changed += Lead.objects.filter(pk__in=[row["pk"] for row in mine], status__in=OPEN_STATUSES).update(
            status=status
        )
        for row in mine:
            label = Reason(row["reason"]).label
            activities.append(
                CrmActivity(
                    kind=CRM_KIND[status],
                    lead_id=row["pk"],
                    description=f"{label}: {row['email']}" + (f" ({row['detail']})" if row["detail"] else "."),
                    metadata={"reason": row["reason"]},
                    created_at=now,
                )
            )
    CrmActivity.objects.bulk_create(activities)
    return changed


# --- Asked by the dispatcher just before sending (MessageKind.still_wanted) -------------------


def unwanted_lead_emails(deliveries) -> dict[int, str]:
    """Campaign emails to leads that converted, unsubscribed or bounced since they were planned."""
    deliveries = [d for d in deliveries if d.subject_type == Lead._meta.label_lower]
    stopped = dict(
        Lead.objects.filter(pk__in={d.subject_id for d in deliveries})
        .exclude(status__in=[Lead.Status.NEW, Lead.Status.CONTACTED])
        .values_list("pk", "status")
    )
    return {d.pk: f"lead_{stopped[d.subject_id]}" for d in deliveries if d.subject_id in stopped}
