"""
A campaign's charts on its admin page: its emails sent, opened and clicked per day (all steps, and
per step) and its leads converted per day, drawn on the server as SVG (common.charts).

The figures are the ledger's plus the daily counts retention kept for each lead
(notifications.api.daily_delivery_figures): the same sources as the statistics table.
"""

import datetime as dt

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from common.charts import bar_chart, line_chart
from notifications.api import Channel, daily_delivery_figures, figures_by

from .links import LEAD
from .models import Lead, LeadCampaign
from .stats import STEPS

MAX_DAYS = 90


def campaign_charts(*, campaign: LeadCampaign, today: dt.date | None = None) -> list:
    """Return the campaign's charts (SVG markup to inline), from its start (at most 90 days back) to today."""
    today = today or timezone.now().astimezone(dt.UTC).date()
    since = max(campaign.started_at.astimezone(dt.UTC).date(), today - dt.timedelta(days=MAX_DAYS - 1))
    since = min(since, today)
    leads = Lead.objects.filter(campaign=campaign)
    rows = [
        row
        for row in daily_delivery_figures(
            since=since, until=today, subject_type=LEAD, subject_ids=leads.values("pk"), kinds=[k for _day, k in STEPS]
        )
        if row.channel == Channel.EMAIL
    ]
    days = [since + dt.timedelta(days=n) for n in range((today - since).days + 1)]
    labels = [f"{day:%d %b}" for day in days]
    total = figures_by(rows, key="", since=since, until=today).get("", [])
    converted = dict(
        leads.filter(status=Lead.Status.CONVERTED, converted_at__date__gte=since)
        .annotate(day=TruncDate("converted_at", tzinfo=dt.UTC))
        .values_list("day")
        .annotate(count=Count("pk"))
        .order_by()
    )
    series = {
        _("Sent"): [item.counts["sent"] for item in total] or [0] * len(days),
        _("Opened"): [item.counts["opened"] for item in total] or [0] * len(days),
        _("Clicked"): [item.counts["clicked"] for item in total] or [0] * len(days),
        _("Converted"): [converted.get(day, 0) for day in days],
    }
    by_kind = figures_by(rows, key="kind", since=since, until=today)
    step_labels = [_("Day %(day)s") % {"day": day} for day, _kind in STEPS]
    per_step = {
        name: [sum(item.counts[figure] for item in by_kind.get(kind, [])) for _day, kind in STEPS]
        for name, figure in ((_("Sent"), "sent"), (_("Opened"), "opened"), (_("Clicked"), "clicked"))
    }
    return [
        line_chart(title=_("Per day (UTC)"), x_labels=labels, series=series),
        bar_chart(title=_("Per step"), x_labels=step_labels, series=per_step),
    ]
