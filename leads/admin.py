"""Admin for lead imports, campaigns, CTA submissions and the CRM trail."""

import logging
import re

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import OuterRef, Subquery
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from common.admin import ReadOnlyAdminMixin, ReadOnlyInline, changelist_link, pretty_json
from common.export import CsvExportMixin, export_action, stream_csv
from common.formatting import format_money, format_when, reader_locale
from lms.models import User
from notifications.api import render_delivery_timeline

from . import admin_bulk, admin_import
from .campaign_charts import campaign_charts
from .importing import report_csv
from .models import CrmActivity, CTASubmission, ImportBatch, Lead, LeadCampaign, WelcomeCall
from .onboarding import approve_cta_submission, reject_cta_submission
from .stats import CONVERSION_RATE_DEFINITION, STEP_HEADERS, campaign_stats, conversion_rate, step_rows, summary_rows

logger = logging.getLogger(__name__)


# --- Imports and campaigns -------------------------------------------------------------------


@admin.register(ImportBatch)
class ImportBatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Batches are made by `import_leads`; their counts and report are a record, not a form."""

    list_display = (
        "id",
        "filename",
        "source",
        "status",
        "total_rows",
        "created_count",
        "duplicate_count",
        "invalid_count",
        "uploaded_by",
        "created_at",
    )
    list_display_links = ("id", "filename")
    list_filter = ("status", "created_at")
    list_select_related = ("uploaded_by",)
    search_fields = ("filename", "source")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    fields = (
        "filename",
        "source",
        "uploaded_by",
        "status",
        "total_rows",
        "created_count",
        "duplicate_count",
        "invalid_count",
        "created_at",
        "leads_link",
        "report_json",
    )
    readonly_fields = fields

    @admin.display(description="leads")
    def leads_link(self, obj):
        return changelist_link("leads.lead", "Leads from this import", import_batch__id__exact=obj.pk)

    @admin.display(description="report")
    def report_json(self, obj):
        problems = [row for row in obj.report if row[1] != "created" or row[4]]  # row[4]: a warning
        link = reverse("admin:leads_importbatch_report", args=[obj.pk])
        summary = render_to_string(
            "admin/leads/import_report_rows.html", {"rows": problems[:200], "more": len(problems) > 200}
        )
        return mark_safe(f'<p><a class="button" href="{link}">Download the full report (CSV)</a></p>{summary}')

    def get_urls(self):
        return [
            path("upload/", self.admin_site.admin_view(self.upload_view), name="leads_importbatch_upload"),
            path("upload/<str:token>/", self.admin_site.admin_view(self.map_view), name="leads_importbatch_map"),
            path("<int:pk>/report.csv", self.admin_site.admin_view(self.report_view), name="leads_importbatch_report"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_upload": request.user.has_perm("leads.add_lead")}
        return super().changelist_view(request, extra_context)

    def upload_view(self, request):
        """Upload a leads CSV (step 1 of 2: the file; the mapping step imports)."""
        return admin_import.upload_view(self, request)

    def map_view(self, request, token):
        """Step 2: map the columns, read the preview and the row report, then import."""
        return admin_import.map_view(self, request, token)

    def report_view(self, request, pk):
        """The batch's row-by-row report as CSV (formula cells escaped)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        batch = get_object_or_404(ImportBatch, pk=pk)
        response = HttpResponse(report_csv(batch), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="import-{batch.pk}-report.csv"'
        return response


@admin.register(LeadCampaign)
class LeadCampaignAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "status",
        "total_leads",
        "conversions",
        "conversion_rate",
        "cost_display",
        "cost_per_conversion",
        "started_at",
        "completed_at",
    )
    list_filter = ("status", "started_at")
    list_select_related = ("import_batch",)
    search_fields = ("name",)
    date_hierarchy = "started_at"
    ordering = ("-started_at", "-id")
    fields = (
        "name",
        "status",
        "cost",
        "currency",
        "import_batch",
        "total_leads",
        "conversions",
        "conversion_rate",
        "cost_per_conversion",
        "started_at",
        "completed_at",
        "leads_link",
        "exports",
        "statistics",
    )
    # Counts are kept by the campaign services; staff name, pause and cost a campaign.
    readonly_fields = tuple(name for name in fields if name not in ("name", "status", "cost", "currency"))

    def get_fields(self, request, obj=None):
        # A new campaign (leads join it with the leads' "Add to a campaign" action): what staff decide.
        return ("name", "status", "cost", "currency") if obj is None else self.fields

    @admin.display(description="conversion rate")
    def conversion_rate(self, obj):
        return f"{conversion_rate(conversions=obj.conversions, leads=obj.total_leads):.1%}" if obj.total_leads else "—"

    @admin.display(description="cost", ordering="cost")
    def cost_display(self, obj):
        return format_money(obj.cost, obj.currency)

    @admin.display(description="cost per conversion")
    def cost_per_conversion(self, obj):
        return format_money(obj.cost / obj.conversions, obj.currency) if obj.conversions else "—"

    @admin.display(description="leads")
    def leads_link(self, obj):
        return changelist_link("leads.lead", "Leads in this campaign", campaign__id__exact=obj.pk)

    @admin.display(description=gettext_lazy("export (CSV)"))
    def exports(self, obj):
        if obj.pk is None:
            return "—"
        leads = reverse("admin:leads_lead_export") + f"?campaign__id__exact={obj.pk}"
        stats = reverse("admin:leads_leadcampaign_statistics", args=[obj.pk])
        return format_html(
            '<a class="button" href="{}" data-testid="export-campaign-leads">{}</a> '
            '<a class="button" href="{}" data-testid="export-campaign-stats">{}</a>',
            leads,
            _("This campaign's leads"),
            stats,
            _("Its statistics"),
        )

    def get_urls(self):
        return [
            path(
                "<int:pk>/statistics.csv",
                self.admin_site.admin_view(self.statistics_csv),
                name="leads_leadcampaign_statistics",
            ),
            *super().get_urls(),
        ]

    def statistics_csv(self, request, pk):
        """The campaign's statistics (the page's tables) as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        campaign = get_object_or_404(LeadCampaign, pk=pk)
        stats = campaign_stats(campaign=campaign)
        summary = summary_rows(stats, money=lambda amount: format_money(amount, campaign.currency))
        rows = [
            ["Campaign", str(campaign)],
            *([label, value] for label, value in summary),
            [],
            STEP_HEADERS,
            *step_rows(stats),
        ]
        return stream_csv(f"campaign-{campaign.pk}-statistics.csv", ["Figure", "Value"], rows)

    @admin.display(description="statistics")
    def statistics(self, obj):
        if obj.pk is None:
            return "—"
        stats = campaign_stats(campaign=obj)
        top = max((count for _, count in stats.funnel), default=0) or 1
        context = {
            "stats": stats,
            "headers": STEP_HEADERS,
            "rows": step_rows(stats),
            "summary": summary_rows(stats, money=lambda amount: format_money(amount, obj.currency)),
            "funnel": [(label, count, round(100 * count / top)) for label, count in stats.funnel],
            "charts": campaign_charts(campaign=obj),
            "rate_definition": _(CONVERSION_RATE_DEFINITION),
        }
        return mark_safe(render_to_string("admin/leads/campaign_stats.html", context))


# --- Leads -----------------------------------------------------------------------------------


@admin.register(Lead)
class LeadAdmin(CsvExportMixin, admin.ModelAdmin):
    export_name = "leads"
    actions = [
        admin_bulk.start_day0,
        admin_bulk.add_to_campaign,
        admin_bulk.set_language,
        admin_bulk.mark_converted,
        export_action(gettext_lazy("Export the selected leads (CSV)")),
    ]
    export_columns = (
        ("id", "pk"),
        ("email", "email"),
        ("name", "name"),
        ("phone", "phone"),
        ("language", "language"),
        ("status", "status"),
        ("campaign", "campaign__name"),
        ("campaign id", "campaign_id"),
        ("source", "source"),
        ("import batch", "import_batch_id"),
        ("first contacted (UTC)", "first_contacted_at"),
        ("last contacted (UTC)", "last_contacted_at"),
        ("day 3 sent", "follow_up_day3_sent"),
        ("day 7 sent", "follow_up_day7_sent"),
        ("converted (UTC)", "converted_at"),
        ("created (UTC)", "created_at"),
    )
    list_display = (
        "email",
        "name",
        "status",
        "campaign",
        "follow_up_day3_sent",
        "follow_up_day7_sent",
        "last_contacted_at",
        "converted_at",
        "opt_out",
        "created_at",
    )
    list_filter = ("status", "campaign", "follow_up_day3_sent", "follow_up_day7_sent", "converted_at", "created_at")
    list_select_related = ("campaign",)
    search_fields = ("email", "name", "phone")
    search_help_text = "Email address, name or phone number (or part of one)."
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    list_per_page = 50
    fields = (
        "email",
        "name",
        "phone",
        "language",
        "source",
        "status",
        "campaign",
        "import_batch",
        "cta_submission",
        "first_contacted_at",
        "last_contacted_at",
        "follow_up_day3_sent",
        "follow_up_day7_sent",
        "converted_at",
        "created_at",
        "data_json",
        "activities_link",
        "message_timeline",
    )
    # Status, campaign and follow-up flags move with the campaign services (import, drip,
    # conversion, unsubscribe); staff may correct a name or a phone number.
    readonly_fields = tuple(name for name in fields if name not in ("name", "phone", "language", "source"))

    def has_add_permission(self, request):
        return False  # leads come from `import_leads` and the CTA form

    def get_queryset(self, request):
        # Why a lead left the campaign, from its CRM trail: one subquery, not a query per row.
        opt_outs = CrmActivity.objects.filter(
            lead=OuterRef("pk"), kind__in=[CrmActivity.Kind.UNSUBSCRIBED, CrmActivity.Kind.BOUNCED]
        ).order_by("-created_at", "-id")
        return super().get_queryset(request).annotate(opt_out_note=Subquery(opt_outs.values("description")[:1]))

    @admin.display(description="unsubscribed or bounced")
    def opt_out(self, obj):
        return getattr(obj, "opt_out_note", None) or "—"

    @admin.display(description="messages and bounces")
    def message_timeline(self, obj):
        return render_delivery_timeline(addresses=[obj.email.lower(), obj.phone]) if obj.pk else "—"

    @admin.display(description="other columns")
    def data_json(self, obj):
        return pretty_json(obj.data)

    @admin.display(description="CRM")
    def activities_link(self, obj):
        return changelist_link("leads.crmactivity", "CRM timeline", lead__id__exact=obj.pk)


# --- CTA submissions and the CRM trail -------------------------------------------------------


class CrmTimelineInline(ReadOnlyInline):
    model = CrmActivity
    fk_name = "submission"
    fields = ("created_at", "kind", "description", "actor")
    readonly_fields = fields
    ordering = ("created_at", "id")
    verbose_name = "CRM activity"
    verbose_name_plural = "CRM timeline"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


@admin.register(CTASubmission)
class CTASubmissionAdmin(admin.ModelAdmin):
    # What staff decide on, narrow enough for a 1280-px screen beside the admin's sidebar and filters;
    # the phone, the WhatsApp choice, who processed it and when are on the submission's page (and in
    # the search and the filters).
    list_display = ("person", "account_in_list", "status", "created_at")
    list_filter = ("status", "whatsapp_opt_in", "created_at")
    list_select_related = ("processed_by",)
    search_fields = ("name", "email", "phone")
    search_help_text = "Name, email address or phone number (or part of one)."
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    fields = (
        "name",
        "email",
        "account",
        "phone",
        "whatsapp_opt_in",
        "language",
        "message",
        "status",
        "created_at",
        "lead",
        "user",
        "processed_by",
        "processed_at",
        "rejection_reason",
    )
    # What the person typed may be corrected before approval; the outcome is the services' to write.
    readonly_fields = (
        "account",
        "status",
        "created_at",
        "lead",
        "user",
        "processed_by",
        "processed_at",
        "rejection_reason",
    )
    inlines = [CrmTimelineInline]

    def get_queryset(self, request):
        # Whether the email already has an account, and whose: one subquery, not a query per row.
        accounts = User.objects.filter(email__iexact=OuterRef("email")).order_by("pk")
        return (
            super()
            .get_queryset(request)
            .annotate(
                account_id=Subquery(accounts.values("pk")[:1]),
                account_is_staff=Subquery(accounts.values("is_staff")[:1]),
            )
        )

    @admin.display(description="Name and email", ordering="name")
    def person(self, obj):
        # A long address may break after its "@" and its dots rather than widen the table.
        email = format_html_join(mark_safe("<wbr>"), "{}", ((part,) for part in re.split(r"(?<=[@.])", obj.email)))
        return format_html("{}<br>{}", obj.name or "—", email)

    @admin.display(description="Account")
    def account_in_list(self, obj):
        """The account column of the list, in a few words (the submission's page explains)."""
        if obj.status != CTASubmission.Status.PENDING and obj.user_id:
            return "Linked"
        if obj.status == CTASubmission.Status.REJECTED:
            return "—"
        if getattr(obj, "account_id", None) is None:
            return "New"
        if getattr(obj, "account_is_staff", False):
            return mark_safe('<strong class="errornote">⚠ A staff account has this email</strong>')
        return "Has an account"

    @admin.display(description="Account")
    def account(self, obj):
        """Tell staff, before they approve, that the email belongs to an existing (staff) account."""
        account_id = getattr(obj, "account_id", None)
        if obj.status != CTASubmission.Status.PENDING and obj.user_id:
            return "Linked"
        if obj.status == CTASubmission.Status.REJECTED:
            return "Rejected: no account was created or linked"
        if account_id is None:
            return "New: approving creates a student account"
        if getattr(obj, "account_is_staff", False):
            return mark_safe(
                '<strong class="errornote" data-testid="staff-account-warning">⚠ A staff account has this email.'
                "</strong> Approving links that staff account to a form anyone could have filled in; its phone and"
                " WhatsApp choice stay as they are. Check with the person before approving."
            )
        return mark_safe(
            '<span data-testid="existing-account-note">An account already has this email: approving links it.'
            " The form's phone number and WhatsApp choice are not copied to the account.</span>"
        )

    actions = ["approve_selected", "approve_with_call", "reject_selected"]

    def has_add_permission(self, request):
        return False  # submissions come from the public CTA form

    def has_approve_permission(self, request):
        return request.user.has_perm("leads.approve_ctasubmission")

    @admin.action(description="Approve selected submissions", permissions=["approve"])
    def approve_selected(self, request, queryset):
        self._approve(request, queryset, schedule_call=False)

    @admin.action(description="Approve and schedule a welcome call", permissions=["approve"])
    def approve_with_call(self, request, queryset):
        self._approve(request, queryset, schedule_call=True)

    def _approve(self, request, queryset, *, schedule_call: bool) -> None:
        for submission in queryset.order_by("created_at", "id"):
            try:
                result = approve_cta_submission(
                    submission=submission, approved_by=request.user, schedule_call=schedule_call
                )
            except ValidationError as exc:
                self.message_user(
                    request,
                    _("%(name)s: not approved. %(why)s") % {"name": submission.name, "why": " ".join(exc.messages)},
                    messages.WARNING,
                )
            except Exception as exc:
                logger.exception("Approving CTA submission %s failed", submission.pk)
                self.message_user(
                    request,
                    _("%(name)s: failed, nothing was created or sent (%(error)s).")
                    % {"name": submission.name, "error": exc},
                    messages.ERROR,
                )
            else:
                self.message_user(request, _approved_message(request, submission, result), messages.SUCCESS)
                if not result.user_created and result.user.is_staff:
                    self.message_user(
                        request,
                        _(
                            "%(name)s: %(email)s is a staff account. It was linked as it was: "
                            "its phone, WhatsApp choice and permissions did not change."
                        )
                        % {"name": submission.name, "email": result.user.email},
                        messages.WARNING,
                    )

    @admin.action(description="Reject selected (optional reason, polite email)", permissions=["approve"])
    def reject_selected(self, request, queryset):
        if "confirm" not in request.POST:
            context = {
                **self.admin_site.each_context(request),
                "title": "Reject submissions",
                "opts": self.model._meta,
                "submissions": queryset,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/leads/reject_confirm.html", context)
        reason = request.POST.get("reason", "")[:2000]
        for submission in queryset:
            try:
                reject_cta_submission(submission=submission, rejected_by=request.user, reason=reason)
            except ValidationError as exc:
                self.message_user(
                    request,
                    _("%(name)s: not rejected. %(why)s") % {"name": submission.name, "why": " ".join(exc.messages)},
                    messages.WARNING,
                )
            else:
                self.message_user(
                    request, _("%(name)s: rejected; a polite email is on its way.") % {"name": submission.name}
                )
        return None


def _approved_message(request, submission, result) -> str:
    """What an approval did, in one line in the staff member's language."""
    if result.user_created:
        text = _("%(name)s: approved. Account %(email)s created, welcome email %(email_status)s, WhatsApp %(whatsapp)s")
    else:
        text = _("%(name)s: approved. Account %(email)s linked, welcome email %(email_status)s, WhatsApp %(whatsapp)s")
    text %= {
        "name": submission.name,
        "email": result.user.email,
        "email_status": result.email_status,
        "whatsapp": result.whatsapp_status,
    }
    if result.call:
        locale = reader_locale(language=get_language(), locale=request.user.locale)
        when = format_when(result.call.scheduled_at, tz=request.user.timezone, locale=locale)
        text += _(", welcome call %(when)s") % {"when": when}
    return text + "."


@admin.register(CrmActivity)
class CrmActivityAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The CRM trail is a log written by the services; nobody rewrites history."""

    list_display = ("created_at", "kind", "short_description", "lead", "submission", "user", "actor")
    list_filter = ("kind", "created_at")
    list_select_related = ("lead", "submission", "user", "actor")
    search_fields = ("description", "lead__email", "submission__email", "user__email")
    search_help_text = "Words from the description, or the email address of the lead, submission or user."
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    list_per_page = 50
    fields = ("created_at", "kind", "description", "lead", "submission", "user", "actor", "metadata_json")
    readonly_fields = fields

    @admin.display(description="description")
    def short_description(self, obj):
        return obj.description if len(obj.description) <= 80 else obj.description[:79] + "…"

    @admin.display(description="metadata")
    def metadata_json(self, obj):
        return pretty_json(obj.metadata)


@admin.register(WelcomeCall)
class WelcomeCallAdmin(admin.ModelAdmin):
    list_display = ("student", "scheduled_at", "duration_minutes", "status", "assigned_to", "submission")
    list_filter = ("status", ("assigned_to", admin.RelatedOnlyFieldListFilter), "scheduled_at")
    list_select_related = ("student", "assigned_to", "submission")
    search_fields = ("student__email", "student__name", "notes")
    autocomplete_fields = ("student", "assigned_to", "submission")
    date_hierarchy = "scheduled_at"
    ordering = ("-scheduled_at", "-id")
