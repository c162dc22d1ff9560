"""
The staff console in the admin: the dashboard (figures per day, job health) and tomorrow's outbox
(what goes out in the next 24 h, and holding, releasing or cancelling it).

GET only reads; holds, releases and cancels are POSTs, with the "change delivery" permission.
Days are UTC days (the ledger's and retention's day); the page says so.
"""

import datetime as dt
from decimal import Decimal

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from common.charts import chart_css, line_chart
from common.formatting import format_money
from leads.models import Lead
from lms.models import Payment
from notifications.api import (
    DELIVERY_FIGURES,
    Channel,
    cancel_messages,
    daily_delivery_figures,
    figures_by,
    hold_messages,
    release_messages,
)

from .console_attention import attention_context
from .console_reach import reach_context
from .outbox import planned, upcoming
from .selectors import jobs_overview

PERIODS = (30, 90)
VIEW_PERMISSION = "notifications.view_delivery"
CHANGE_PERMISSION = "notifications.change_delivery"


@require_GET
def charts_css(request):
    """The charts' style sheet (pygal's, served from this site: the CSP allows no inline style)."""
    response = HttpResponse(chart_css(), content_type="text/css; charset=utf-8")
    response["Cache-Control"] = "max-age=3600"
    return response


def _period(request) -> int:
    try:
        days = int(request.GET.get("days", PERIODS[0]))
    except ValueError:
        days = PERIODS[0]
    return days if days in PERIODS else PERIODS[0]


def _figure_names() -> dict[str, str]:
    return {
        "planned": _("Planned"),
        "sent": _("Sent"),
        "delivered": _("Delivered"),
        "opened": _("Opened"),
        "clicked": _("Clicked"),
        "failed": _("Failed"),
        "bounced": _("Bounced"),
        "unknown": _("Unknown"),
    }


def dashboard_context(*, days: int, today: dt.date) -> dict:
    """Everything the dashboard shows for the last `days` UTC days up to `today`."""
    since = today - dt.timedelta(days=days - 1)
    rows = daily_delivery_figures(since=since, until=today)
    labels = [f"{since + dt.timedelta(days=n):%d %b}" for n in range(days)]
    names = _figure_names()
    total = figures_by(rows, key="", since=since, until=today).get("", [])
    by_channel = figures_by(rows, key="channel", since=since, until=today)
    by_kind = figures_by(rows, key="kind", since=since, until=today)
    zeros = [0] * days
    every = 7 if days <= 30 else 15  # a labelled day a week (a fortnight over 90 days)
    charts = [
        line_chart(
            title=_("Messages per day"),
            x_labels=labels,
            every=every,
            series={names[f]: [d.counts[f] for d in total] or zeros for f in DELIVERY_FIGURES},
        ),
        line_chart(
            title=_("Sent per day, by channel"),
            x_labels=labels,
            every=every,
            series={channel: [d.counts["sent"] for d in items] for channel, items in by_channel.items()} or {"": zeros},
        ),
        line_chart(
            title=_("Sent per day, by kind"),
            x_labels=labels,
            every=every,
            series={kind: [d.counts["sent"] for d in items] for kind, items in by_kind.items()} or {"": zeros},
        ),
        line_chart(
            title=_("WhatsApp cost per day (₹, estimated)"),
            x_labels=labels,
            every=every,
            series={"₹": [float(d.cost) for d in by_channel.get(Channel.WHATSAPP, [])] or zeros},
        ),
        line_chart(
            title=_("Conversions and payments per day"), x_labels=labels, every=every, series=_business(since, today)
        ),
    ]
    week = today - dt.timedelta(days=6)
    last_week = []
    for channel, items in by_channel.items():
        recent = [d for d in items if d.day >= week]
        counts = {f: sum(d.counts[f] for d in recent) for f in DELIVERY_FIGURES}
        cost = sum((d.cost for d in recent), Decimal("0"))
        last_week.append({"channel": channel, "counts": counts, "cost": format_money(cost, "INR")})
    return {
        "days": days,
        "periods": PERIODS,
        "since": since,
        "today": today,
        "charts": charts,
        "figure_names": [names[f] for f in DELIVERY_FIGURES],
        "figures": DELIVERY_FIGURES,
        "last_week": last_week,
        "week_since": week,
        "kind_totals": [
            (kind, {f: sum(d.counts[f] for d in items) for f in DELIVERY_FIGURES}) for kind, items in by_kind.items()
        ],
    }


def _business(since: dt.date, today: dt.date) -> dict:
    """Leads converted and payments received per UTC day."""
    days = [since + dt.timedelta(days=n) for n in range((today - since).days + 1)]
    converted = dict(
        Lead.objects.filter(converted_at__date__gte=since, status=Lead.Status.CONVERTED)
        .annotate(day=TruncDate("converted_at", tzinfo=dt.UTC))
        .values_list("day")
        .annotate(count=Count("pk"))
        .order_by()
    )
    paid = dict(
        Payment.objects.filter(status=Payment.Status.PAID, paid_at__date__gte=since)
        .annotate(day=TruncDate("paid_at", tzinfo=dt.UTC))
        .values_list("day")
        .annotate(count=Count("pk"))
        .order_by()
    )
    return {
        _("Conversions"): [converted.get(day, 0) for day in days],
        _("Payments received"): [paid.get(day, 0) for day in days],
    }


def _payments_total(since: dt.date) -> list[tuple[str, str]]:
    rows = (
        Payment.objects.filter(status=Payment.Status.PAID, paid_at__date__gte=since)
        .values("currency")
        .annotate(total=Sum("amount"))
        .order_by("currency")
    )
    return [(row["currency"], format_money(row["total"], row["currency"])) for row in rows]


@require_GET
def dashboard(request):
    """The staff home dashboard: figures per day for the last 30 or 90 days, and each job's health."""
    if not request.user.has_perm(VIEW_PERMISSION):
        raise PermissionDenied
    now = timezone.now()
    context = dashboard_context(days=_period(request), today=now.astimezone(dt.UTC).date())
    context.update(
        **admin.site.each_context(request),
        **jobs_overview(now=now),
        **attention_context(now=now),
        title=_("Dashboard"),
        now=now,
        payments_total=_payments_total(context["since"]),
        page_zone=timezone.get_current_timezone_name(),
    )
    context.update(reach_context(now=now))  # the live sessions' reach (console_reach.py)
    return TemplateResponse(request, "admin/automation/dashboard.html", context)


@require_http_methods(["GET", "POST"])
def outbox(request):
    """Tomorrow's outbox: what the jobs will plan in the next 24 h (their dry runs) and what waits
    in the ledger; POST holds, releases or cancels one event's messages or one person's."""
    if not request.user.has_perm(VIEW_PERMISSION):
        raise PermissionDenied
    if request.method == "POST":
        return _act(request)
    now = timezone.now()
    context = {
        **admin.site.each_context(request),
        "title": _("Tomorrow's outbox"),
        "now": now,
        "until": now + dt.timedelta(hours=24),
        "upcoming": upcoming(now=now),
        "planned": planned(now=now),
        "can_change": request.user.has_perm(CHANGE_PERMISSION),
        "page_zone": timezone.get_current_timezone_name(),
    }
    return TemplateResponse(request, "admin/automation/outbox.html", context)


def _act(request):
    if not request.user.has_perm(CHANGE_PERMISSION):
        raise PermissionDenied
    action, _sep, scope = request.POST.get("action", "").partition("_")
    actions = {"hold": hold_messages, "release": release_messages, "cancel": cancel_messages}
    if action not in actions or scope not in ("", "subject"):
        messages.error(request, _("Choose hold, release or cancel."))
        return redirect("automation_outbox")
    who: dict = {}
    if scope == "subject":
        subject_type, _sep, subject_id = request.POST.get("subject", "").rpartition(":")
        if not subject_type or not subject_id.isdigit():
            messages.error(request, _("No such event."))
            return redirect("automation_outbox")
        who["subject"] = (subject_type, int(subject_id))
    elif request.POST.get("event"):
        try:
            who["event_ids"] = [int(request.POST["event"])]
        except ValueError:
            messages.error(request, _("No such event."))
            return redirect("automation_outbox")
    else:
        person = request.POST.get("person", "").strip()
        if not person:
            messages.error(request, _("Name an event or a person (email address or phone number)."))
            return redirect("automation_outbox")
        who.update(_person(person))
    try:
        count = actions[action](reason=request.POST.get("reason", ""), by=request.user.get_username(), **who)
    except ValidationError:
        messages.error(request, _("Say why: the reason is written on each message's history."))
        return redirect("automation_outbox")
    done = {"hold": _("held"), "release": _("released"), "cancel": _("cancelled")}[action]
    messages.success(request, _("%(count)s messages %(done)s.") % {"count": count, "done": done})
    return redirect("automation_outbox")


def _person(person: str) -> dict:
    """An account found by email or phone (its messages), else the address itself (a lead's)."""
    from django.contrib.auth import get_user_model

    users = get_user_model().objects
    try:
        user = users.filter(email__iexact=person).first() if "@" in person else users.filter(phone=person).first()
    except ValidationError:  # not a phone number
        user = None
    return {"recipient_id": user.pk} if user else {"to_address": person}
